// Generator side of the `direct` scenario: both users of each pair log in, then each sends chat
// messages to the other's full JID (RFC 6121 §8.5.3.1: delivered to that resource whatever its
// presence). Closed loop: `window` messages in flight per direction, the next sent when one is
// delivered. Open loop: a fixed rate spread round-robin over the directions from a 1 ms timer.
// Messages are stamped when actually written, and how late each write was against its schedule
// is kept apart (sendLag): a large lag means the generator, not the server, fell behind, and then
// the latency figures would hide queueing (coordinated omission).
// The message id carries `<seq>.<send time in µs>`; received text is scanned, never parsed.
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from './histogram.ts';
import type { DirectParams, Driver, GenTarget, ReadyInfo, WorkerReport } from './protocol.ts';
import type { SaltedPasswordCache } from './scram-client.ts';
import { login } from './xmpp-login.ts';

const RESOURCE = 'bench';
const MESSAGE_END = '</message>';
/** A connection's unparsed tail beyond this means the stream is not what we expect. */
const MAX_PENDING_CHARS = 1 << 20;

class Direction {
  readonly outstanding = new Set<number>();
  readonly prefix: string;
  readonly suffix: string;
  sender: Connection | null = null;
  seq = 0;

  constructor(toJid: string, bodyBytes: number) {
    this.prefix = `<message to='${toJid}' type='chat' id='`;
    this.suffix = `'><body>${'x'.repeat(bodyBytes)}</body></message>`;
  }
}

class Connection {
  socket: net.Socket | null = null;
  pending = '';
  readonly user: number;
  /** Messages the peer sends to us. */
  readonly inbound: Direction;
  /** Messages we send to the peer (bounces come back to us). */
  readonly outbound: Direction;

  constructor(user: number, inbound: Direction, outbound: Direction) {
    this.user = user;
    this.inbound = inbound;
    this.outbound = outbound;
  }
}

export class DirectDriver implements Driver {
  readonly #p: DirectParams;
  readonly #target: GenTarget;
  readonly #conns: Connection[] = [];
  readonly #directions: Direction[] = [];
  readonly #hist = new LatencyHistogram();
  readonly #lag = new LatencyHistogram();
  readonly #scram: SaltedPasswordCache = new Map();
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

  constructor(target: GenTarget, params: DirectParams) {
    this.#target = target;
    this.#p = params;
    const jid = (u: number) => `u${u}@${target.domain}/${RESOURCE}`;
    for (const [a, b] of params.pairs) {
      const aToB = new Direction(jid(b), params.bodyBytes);
      const bToA = new Direction(jid(a), params.bodyBytes);
      const ca = new Connection(a, bToA, aToB);
      const cb = new Connection(b, aToB, bToA);
      aToB.sender = ca;
      bToA.sender = cb;
      this.#conns.push(ca, cb);
      this.#directions.push(aToB, bToA);
    }
  }

  async setup(): Promise<ReadyInfo> {
    let next = 0;
    let failed = 0;
    const worker = async () => {
      while (next < this.#conns.length) {
        const i = next++;
        const conn = this.#conns[i] as Connection;
        try {
          const s = await login({
            ...this.#target,
            transport: this.#p.transport,
            mechanism: this.#p.mechanism,
            username: `u${conn.user}`,
            password: this.#p.password,
            resource: RESOURCE,
            localAddress: this.#p.localAddresses[i % this.#p.localAddresses.length],
            presence: true,
            timeoutMs: this.#p.timeoutMs,
            scramCache: this.#scram,
          });
          this.#attach(conn, s.socket);
        } catch (err) {
          failed++;
          this.#firstError ??= String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#p.connectConcurrency, this.#conns.length) }, worker));
    return { connections: this.#conns.length - failed, failed, firstError: this.#firstError };
  }

  #attach(conn: Connection, socket: net.Socket): void {
    conn.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(conn, chunk));
    socket.on('close', () => {
      conn.socket = null;
      if (!this.#closing) {
        this.#disconnects++;
        this.#firstError ??= `connection of u${conn.user} closed during the run`;
      }
    });
  }

  go(): void {
    this.#sending = true;
    if (this.#p.ratePerSec > 0) return this.#startOpenLoop();
    const now = nowUs();
    for (const d of this.#directions) for (let i = 0; i < this.#p.window; i++) this.#send(d, now);
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
    const report: Omit<WorkerReport, 'lost' | 'latency' | 'sendLag' | 'firstError' | 'disconnects'> = {
      ops: this.#ops,
      attempts: this.#attempts,
      errors: this.#errors,
      skipped: this.#skipped,
    };
    clearInterval(this.#timer);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && this.#directions.some((d) => d.outstanding.size > 0)) await sleep(20);
    let lost = 0;
    for (const d of this.#directions) lost += d.outstanding.size;
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
    await Promise.all(this.#conns.map((c) => closeSocket(c.socket)));
  }

  #send(d: Direction, stampUs: number): void {
    const socket = d.sender?.socket;
    if (!socket) return;
    const seq = d.seq++;
    d.outstanding.add(seq);
    if (this.#measuring) this.#attempts++;
    socket.write(`${d.prefix}${seq}.${stampUs}${d.suffix}`);
  }

  #startOpenLoop(): void {
    const perMs = this.#p.ratePerSec / 1000;
    const start = performance.now();
    let scheduled = 0;
    let rr = 0;
    const n = this.#directions.length;
    // Node timers fire at best every ~1 ms: everything that fell due since the last tick goes out now.
    this.#timer = setInterval(() => {
      const now = performance.now();
      const due = Math.floor((now - start) * perMs);
      for (; scheduled < due; scheduled++) {
        const d = this.#directions[rr++ % n] as Direction;
        if (d.outstanding.size >= this.#p.maxOutstanding) {
          if (this.#measuring) this.#skipped++;
          continue;
        }
        if (this.#measuring) this.#lag.record((now - (start + scheduled / perMs)) * 1000);
        this.#send(d, Math.round(now * 1000));
      }
    }, 1);
  }

  #onData(conn: Connection, chunk: Buffer): void {
    // latin1: one char per byte and no decoding cost; everything we look for is ASCII.
    const text = conn.pending === '' ? chunk.toString('latin1') : conn.pending + chunk.toString('latin1');
    let from = 0;
    for (;;) {
      const end = text.indexOf(MESSAGE_END, from);
      if (end === -1) break;
      this.#onMessage(conn, text, from, end);
      from = end + MESSAGE_END.length;
    }
    const rest = from === 0 ? text : text.slice(from);
    conn.pending = rest.length > MAX_PENDING_CHARS ? rest.slice(-65536) : rest;
  }

  /** One `<message …>…</message>` ending at `end` (presence and other stanzas before it are skipped). */
  #onMessage(conn: Connection, text: string, from: number, end: number): void {
    const open = text.lastIndexOf('<message', end);
    if (open < from) return;
    const tagEnd = text.indexOf('>', open);
    const idAt = text.indexOf(' id=', open);
    if (idAt === -1 || idAt > tagEnd) return;
    const quote = text[idAt + 4] as string;
    const valueEnd = text.indexOf(quote, idAt + 5);
    const dot = text.indexOf('.', idAt + 5);
    if (dot === -1 || dot > valueEnd) return; // not one of ours (e.g. a server ping)
    const seq = Number(text.slice(idAt + 5, dot));
    const stamp = Number(text.slice(dot + 1, valueEnd));
    const typeAt = text.indexOf(' type=', open);
    if (typeAt !== -1 && typeAt < tagEnd && text.startsWith('error', typeAt + 7)) {
      // A bounce (RFC 6120 §8.3) of a message we sent: it will never be delivered.
      if (!conn.outbound.outstanding.delete(seq)) return;
      if (this.#measuring) {
        this.#errors++;
        this.#firstError ??= `bounced: ${text.slice(open, Math.min(end, open + 400))}`;
      }
      if (this.#sending && this.#p.ratePerSec === 0) this.#send(conn.outbound, nowUs());
      return;
    }
    const d = conn.inbound;
    if (!d.outstanding.delete(seq)) return; // duplicate or stale
    if (this.#measuring) {
      this.#ops++;
      this.#hist.record(nowUs() - stamp);
    }
    if (this.#sending && this.#p.ratePerSec === 0) this.#send(d, nowUs());
  }
}

function nowUs(): number {
  return Math.round(performance.now() * 1000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Ends the stream (RFC 6120 §4.4) and waits briefly for the server to close its side. */
export async function closeSocket(socket: net.Socket | null, waitMs = 2000): Promise<void> {
  if (!socket || socket.destroyed) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.end('</stream:stream>');
  });
}
