// Generator side of the `muc` scenario (XEP-0045 group chat). Every occupant logs in, then joins its
// room with history suppressed (§7.2.14, maxstanzas='0') and waits for its self-presence (status 110,
// §7.2.2). The first occupant of a room creates it; when the server reports a new room (status 201,
// §10.1.1) and may hold it locked until configured, it accepts the default configuration as an
// instant room (§10.1.2), or submits one with logging off (§10.1.3), before anyone else joins. Then
// senders send groupchat messages (§7.4), which the room reflects to every occupant, the sender
// included: one message = M delivered stanzas. The stanzas and text scans are in muc-stanzas.ts.
// Closed loop: each sender keeps `window` messages whose reflection it has not seen yet, and sends the
// next when one comes back. Open loop: a fixed rate spread round-robin over the senders (1 ms timer).
// The body starts with `<sender>.<seq>.<send time in µs>`; received text is scanned for `</message>`
// and that stamp only, never parsed as XML (the generator must stay far cheaper than the server).
// Every room's occupants live in one thread, so performance.now() stamps compare within a thread.
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { closeSocket } from './direct-driver.ts';
import { LatencyHistogram } from './histogram.ts';
import type { Driver, GenTarget, MucParams, MucRoomPlan, ReadyInfo, WorkerReport } from './protocol.ts';
import type { SaltedPasswordCache } from './scram-client.ts';
import {
  iqOutcome,
  instantRoomIq,
  joinOutcome,
  joinPresence,
  noLoggingRoomIq,
  type Stamp,
  scanMessages,
  unconsumedTail,
} from './muc-stanzas.ts';
import { login } from './xmpp-login.ts';

class Occupant {
  readonly user: number;
  readonly room: MucRoomPlan;
  socket: net.Socket | null = null;
  /** Set-up phase: everything received since the join was sent; null once the occupant is running. */
  setupText: string | null = '';
  check: (() => void) | null = null;
  pending = '';

  constructor(user: number, room: MucRoomPlan) {
    this.user = user;
    this.room = room;
  }
}

class Sender {
  readonly occupant: Occupant;
  readonly fanout: number;
  readonly prefix: string;
  readonly suffix: string;
  /** seq → deliveries still expected (one per occupant, the sender's own reflection included). */
  readonly remaining = new Map<number, number>();
  /** Messages whose reflection to the sender has not come back (closed loop: the window). */
  awaitingEcho = 0;
  seq = 0;

  constructor(occupant: Occupant, fanout: number, bodyBytes: number) {
    this.occupant = occupant;
    this.fanout = fanout;
    this.prefix = `<message to='${occupant.room.jid}' type='groupchat'><body>${occupant.user}.`;
    this.suffix = ` ${'x'.repeat(bodyBytes)}</body></message>`;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const nowUs = () => Math.round(performance.now() * 1000);

export class MucDriver implements Driver {
  readonly #p: MucParams;
  readonly #target: GenTarget;
  readonly #occupants: Occupant[] = [];
  readonly #senders = new Map<number, Sender>();
  readonly #senderList: Sender[] = [];
  readonly #hist = new LatencyHistogram();
  readonly #lag = new LatencyHistogram();
  readonly #scram: SaltedPasswordCache = new Map();
  readonly #stamp: Stamp = { sender: 0, seq: 0, us: 0 };
  #sending = false;
  #measuring = false;
  #closing = false;
  #timer: NodeJS.Timeout | undefined;
  #ops = 0;
  #attempts = 0;
  #errors = 0;
  #skipped = 0;
  #disconnects = 0;
  #firstError: string | null = null;

  constructor(target: GenTarget, params: MucParams) {
    this.#target = target;
    this.#p = params;
    for (const room of params.rooms) {
      const byUser = new Map<number, Occupant>();
      for (const u of room.occupants) {
        const o = new Occupant(u, room);
        byUser.set(u, o);
        this.#occupants.push(o);
      }
      for (const u of room.senders) {
        const o = byUser.get(u);
        if (!o) throw new Error(`sender u${u} is not an occupant of ${room.jid}`);
        const s = new Sender(o, room.occupants.length, params.bodyBytes);
        this.#senders.set(u, s);
        this.#senderList.push(s);
      }
    }
  }

  async setup(): Promise<ReadyInfo> {
    let next = 0;
    let failed = 0;
    const one = async () => {
      while (next < this.#occupants.length) {
        const i = next++;
        const o = this.#occupants[i] as Occupant;
        try {
          const s = await login({
            ...this.#target,
            transport: this.#p.transport,
            mechanism: this.#p.mechanism,
            username: `u${o.user}`,
            password: this.#p.password,
            resource: 'muc',
            localAddress: this.#p.localAddresses[i % this.#p.localAddresses.length],
            presence: true,
            timeoutMs: this.#p.timeoutMs,
            scramCache: this.#scram,
          });
          this.#attach(o, s.socket);
        } catch (err) {
          failed++;
          this.#firstError ??= String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#p.connectConcurrency, this.#occupants.length) }, one));
    if (failed === 0) await Promise.all(this.#p.rooms.map((r) => this.#joinRoom(r)));
    return { connections: this.#occupants.length - failed, failed, firstError: this.#firstError };
  }

  /** The first occupant creates the room (configuring it as an instant room if new), then the others join together. */
  async #joinRoom(room: MucRoomPlan): Promise<void> {
    const [first, ...rest] = this.#occupants.filter((o) => o.room === room);
    if (!first) return;
    const created = await this.#join(first);
    if (created) {
      const id = `instant-${first.user}`;
      first.socket?.write(this.#p.roomConfig === 'instant' ? instantRoomIq(room.jid, id) : noLoggingRoomIq(room.jid, id));
      const reply = await this.#waitFor(first, `the configuration (${this.#p.roomConfig}) of ${room.jid}`, (t) => {
        const r = iqOutcome(t, id);
        return r === 'pending' ? undefined : r;
      });
      if (reply !== 'result')
        throw new Error(`the server refused the configuration (${this.#p.roomConfig}) of ${room.jid}: ${reply.error}`);
    }
    first.setupText = null;
    await Promise.all(
      rest.map(async (o) => {
        await this.#join(o);
        o.setupText = null;
      }),
    );
  }

  /** Sends the join and waits for the self-presence; true when the join created the room. */
  async #join(o: Occupant): Promise<boolean> {
    o.socket?.write(joinPresence(o.room.jid, `u${o.user}`));
    const outcome = await this.#waitFor(o, `u${o.user}'s self-presence in ${o.room.jid}`, (t) => {
      const r = joinOutcome(t, o.room.jid);
      return r.kind === 'pending' ? undefined : r;
    });
    if (outcome.kind === 'error')
      throw new Error(
        `the server refused u${o.user}'s join of ${o.room.jid}${o === this.#occupants.find((x) => x.room === o.room) ? ' (creating the room)' : ''}: ${outcome.stanza.slice(0, 600)}`,
      );
    return outcome.created;
  }

  #waitFor<T>(o: Occupant, what: string, pred: (text: string) => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        o.check = null;
        reject(new Error(`timed out after ${this.#p.timeoutMs} ms waiting for ${what}; received: ${(o.setupText ?? '').slice(-500)}`));
      }, this.#p.timeoutMs);
      o.check = () => {
        if (o.socket === null) {
          clearTimeout(timer);
          o.check = null;
          return reject(new Error(`u${o.user}'s connection closed while waiting for ${what}: ${(o.setupText ?? '').slice(-500)}`));
        }
        const v = pred(o.setupText ?? '');
        if (v === undefined) return;
        clearTimeout(timer);
        o.check = null;
        resolve(v);
      };
      o.check();
    });
  }

  #attach(o: Occupant, socket: net.Socket): void {
    o.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(o, chunk));
    socket.on('close', () => {
      o.socket = null;
      o.check?.();
      if (!this.#closing) {
        this.#disconnects++;
        this.#firstError ??= `connection of u${o.user} closed during the run`;
      }
    });
  }

  go(): void {
    this.#sending = true;
    if (this.#p.ratePerSec > 0) return this.#startOpenLoop();
    const now = nowUs();
    for (const s of this.#senderList) for (let i = 0; i < this.#p.window; i++) this.#send(s, now);
  }

  mark(): void {
    this.#measuring = true;
    this.#ops = this.#attempts = this.#errors = this.#skipped = 0;
    this.#hist.reset();
    this.#lag.reset();
  }

  async stop(graceMs: number): Promise<WorkerReport> {
    this.#measuring = false;
    this.#sending = false;
    clearInterval(this.#timer);
    const report = { ops: this.#ops, attempts: this.#attempts, errors: this.#errors, skipped: this.#skipped };
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && this.#senderList.some((s) => s.remaining.size > 0)) await sleep(20);
    let lost = 0;
    for (const s of this.#senderList) for (const n of s.remaining.values()) lost += n;
    return {
      ...report,
      lost,
      disconnects: this.#disconnects,
      latency: this.#hist.toData(),
      sendLag: this.#p.ratePerSec > 0 ? this.#lag.toData() : null,
      firstError: this.#firstError,
    };
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#timer);
    const open = this.#occupants.flatMap((o) => (o.socket ? [o.socket] : []));
    for (let i = 0; i < open.length; i += 500) await Promise.all(open.slice(i, i + 500).map((s) => closeSocket(s)));
  }

  #send(s: Sender, stampUs: number): void {
    const socket = s.occupant.socket;
    if (!socket) return;
    const seq = s.seq++;
    s.remaining.set(seq, s.fanout);
    s.awaitingEcho++;
    if (this.#measuring) this.#attempts++;
    socket.write(`${s.prefix}${seq}.${stampUs}${s.suffix}`);
  }

  #startOpenLoop(): void {
    const perMs = this.#p.ratePerSec / 1000;
    const start = performance.now();
    const n = this.#senderList.length;
    let scheduled = 0;
    let rr = 0;
    // Node timers fire at best every ~1 ms: everything that fell due since the last tick goes out now.
    this.#timer = setInterval(() => {
      const now = performance.now();
      const due = Math.floor((now - start) * perMs);
      for (; scheduled < due; scheduled++) {
        const s = this.#senderList[rr++ % n] as Sender;
        if (s.awaitingEcho >= this.#p.maxOutstanding) {
          if (this.#measuring) this.#skipped++;
          continue;
        }
        if (this.#measuring) this.#lag.record((now - (start + scheduled / perMs)) * 1000);
        this.#send(s, Math.round(now * 1000));
      }
    }, 1);
  }

  #onData(o: Occupant, chunk: Buffer): void {
    // latin1: one char per byte and no decoding cost; everything we look for is ASCII.
    if (o.setupText !== null) {
      o.setupText += chunk.toString('latin1');
      o.check?.();
      return;
    }
    const text = o.pending === '' ? chunk.toString('latin1') : o.pending + chunk.toString('latin1');
    const now = nowUs();
    const consumed = scanMessages(text, 0, this.#stamp, (st, error) => this.#onDelivery(o, st, error, now));
    o.pending = unconsumedTail(text, consumed);
  }

  #onDelivery(o: Occupant, st: Stamp, error: boolean, now: number): void {
    const s = this.#senders.get(st.sender);
    if (s === undefined) return;
    if (error) {
      // A bounce of our message (RFC 6120 §8.3): nobody gets it.
      if (o !== s.occupant || !s.remaining.delete(st.seq)) return;
      s.awaitingEcho--;
      if (this.#measuring) {
        this.#errors++;
        this.#firstError ??= `bounced: u${st.sender} seq ${st.seq} in ${o.room.jid}`;
      }
      if (this.#sending && this.#p.ratePerSec === 0) this.#send(s, now);
      return;
    }
    const left = s.remaining.get(st.seq);
    if (left === undefined) return; // stale (after a bounce) or not ours
    if (left <= 1) s.remaining.delete(st.seq);
    else s.remaining.set(st.seq, left - 1);
    if (this.#measuring) {
      this.#ops++;
      this.#hist.record(now - st.us);
    }
    if (o === s.occupant) {
      // The reflection (XEP-0045 §7.4): the room has taken the message; the window slides.
      s.awaitingEcho--;
      if (this.#sending && this.#p.ratePerSec === 0) this.#send(s, now);
    }
  }
}
