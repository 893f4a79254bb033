// Generator thread of the `presence` scenario. Its users log in without presence, then:
// online  — each sends initial presence (RFC 6121 §4.2); the server broadcasts it to the contacts and
//           probes theirs (§4.3), so each user should receive one presence from each contact;
// updates — each user sends `updates` presence updates (§4.4) carrying `<status>sender.seq.µs</status>`,
//           at `ratePerSec` for the thread, round-robin; receivers take the latency from the stamp;
// offline — each sends unavailable presence (§4.5) and waits for its contacts'.
// Received text is scanned for `<status>` and `unavailable`, never parsed. Stamps are
// process.hrtime (CLOCK_MONOTONIC, shared by all threads: performance.now() has a per-thread origin).
import type net from 'node:net';
import { workerData } from 'node:worker_threads';
import { LatencyHistogram, type HistogramData } from './histogram.ts';
import { closeSocket } from './direct-driver.ts';
import { serveDriver } from './phase-driver.ts';
import type { ClientParams, GenTarget, ReadyInfo } from './protocol.ts';
import type { SaltedPasswordCache } from './scram-client.ts';
import { login } from './xmpp-login.ts';

export interface PresenceInit {
  target: GenTarget;
  client: ClientParams;
  users: number[];
  contacts: number;
  connectConcurrency: number;
}

export interface PhaseResult {
  /** Stanzas this phase expected this thread's users to receive, and how many came. */
  expected: number;
  received: number;
  sent: number;
  latency: HistogramData | null;
  disconnects: number;
  firstError: string | null;
}

const STATUS_OPEN = '<status>';
const STATUS_CLOSE = '</status>';
const MAX_PENDING_CHARS = 1 << 20;

export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** `sender.seq.stampUs` out of a status text, or null when it is not one of ours. */
export function parseStamp(text: string): { sender: number; seq: number; stampUs: number } | null {
  const parts = text.split('.');
  if (parts.length !== 3) return null;
  const [sender, seq, stampUs] = parts.map(Number) as [number, number, number];
  return Number.isInteger(sender) && Number.isInteger(seq) && Number.isFinite(stampUs) ? { sender, seq, stampUs } : null;
}

class User {
  readonly index: number;
  socket: net.Socket | null = null;
  pending = '';
  presences = 0;
  unavailable = 0;
  seq = 0;
  constructor(index: number) {
    this.index = index;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class PresenceDriver {
  readonly #init: PresenceInit;
  readonly #users: User[];
  readonly #scram: SaltedPasswordCache = new Map();
  readonly #hist = new LatencyHistogram();
  #updatesReceived = 0;
  #closing = false;
  #disconnects = 0;
  #firstError: string | null = null;

  constructor(init: PresenceInit) {
    this.#init = init;
    this.#users = init.users.map((u) => new User(u));
  }

  async setup(): Promise<ReadyInfo> {
    const { client, target } = this.#init;
    let next = 0;
    let failed = 0;
    const one = async () => {
      while (next < this.#users.length) {
        const user = this.#users[next++] as User;
        try {
          const s = await login({
            ...target,
            transport: client.transport,
            mechanism: client.mechanism,
            username: `u${user.index}`,
            password: client.password,
            resource: 'presence',
            localAddress: client.localAddresses[user.index % client.localAddresses.length],
            presence: false,
            timeoutMs: client.timeoutMs,
            scramCache: this.#scram,
          });
          user.socket = s.socket;
          s.socket.on('data', (chunk: Buffer) => this.#onData(user, chunk));
          s.socket.on('close', () => {
            user.socket = null;
            if (!this.#closing) {
              this.#disconnects++;
              this.#firstError ??= `connection of u${user.index} closed during the run`;
            }
          });
        } catch (err) {
          failed++;
          this.#firstError ??= String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#init.connectConcurrency, this.#users.length) }, one));
    return { connections: this.#users.length - failed, failed, firstError: this.#firstError };
  }

  #onData(user: User, chunk: Buffer): void {
    const text = user.pending === '' ? chunk.toString('latin1') : user.pending + chunk.toString('latin1');
    let from = 0;
    for (;;) {
      const end = text.indexOf('</presence>', from);
      // Presence without children (e.g. `<presence … type='unavailable'/>`) is self-closing.
      const open = text.indexOf('<presence', from);
      if (open === -1) break;
      const gt = text.indexOf('>', open);
      if (gt === -1) break;
      let stop: number;
      if (text[gt - 1] === '/') stop = gt + 1;
      else if (end !== -1) stop = end + 11;
      else break;
      this.#onPresence(user, text, open, gt, stop);
      from = stop;
    }
    const rest = from === 0 ? text : text.slice(from);
    user.pending = rest.length > MAX_PENDING_CHARS ? rest.slice(-65536) : rest;
  }

  #onPresence(user: User, text: string, open: number, gt: number, stop: number): void {
    const head = text.slice(open, gt);
    if (head.includes('unavailable')) {
      user.unavailable++;
      return;
    }
    if (head.includes("type='") || head.includes('type="')) return; // probes, errors, subscriptions
    const s = text.indexOf(STATUS_OPEN, gt);
    if (s === -1 || s > stop) {
      // Initial presence of a contact, unless it is the echo of our own (RFC 6121 §4.2.2).
      if (!head.includes(`from='u${user.index}@`) && !head.includes(`from="u${user.index}@`)) user.presences++;
      return;
    }
    const stamp = parseStamp(text.slice(s + STATUS_OPEN.length, text.indexOf(STATUS_CLOSE, s)));
    if (stamp === null || stamp.sender === user.index) return; // our own echo (RFC 6121 §4.4.2)
    this.#updatesReceived++;
    this.#hist.record(nowUs() - stamp.stampUs);
  }

  #result(expected: number, received: number, sent: number, latency: HistogramData | null): PhaseResult {
    return { expected, received, sent, latency, disconnects: this.#disconnects, firstError: this.#firstError };
  }

  async #await(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done() && Date.now() < deadline) await sleep(10);
  }

  async online(timeoutMs: number): Promise<PhaseResult> {
    for (const u of this.#users) u.socket?.write('<presence/>');
    const expected = this.#users.length * this.#init.contacts;
    const got = () => this.#users.reduce((n, u) => n + Math.min(u.presences, this.#init.contacts), 0);
    await this.#await(() => got() >= expected, timeoutMs);
    return this.#result(expected, got(), this.#users.length, null);
  }

  async updates(arg: { perUser: number; ratePerSec: number; timeoutMs: number }): Promise<PhaseResult> {
    const total = this.#users.length * arg.perUser;
    const expected = total * this.#init.contacts;
    const start = performance.now();
    let sent = 0;
    let rr = 0;
    // Node timers fire at best every ~1 ms: everything that fell due since the last tick goes out now.
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor((performance.now() - start) * (arg.ratePerSec / 1000)));
      for (; sent < due; sent++) {
        const u = this.#users[rr++ % this.#users.length] as User;
        u.socket?.write(`<presence><status>${u.index}.${u.seq++}.${nowUs()}</status></presence>`);
      }
      if (sent >= total) clearInterval(timer);
    }, 1);
    await this.#await(() => sent >= total && this.#updatesReceived >= expected, arg.timeoutMs);
    clearInterval(timer);
    return this.#result(expected, this.#updatesReceived, sent, this.#hist.toData());
  }

  async offline(timeoutMs: number): Promise<PhaseResult> {
    for (const u of this.#users) u.socket?.write(`<presence type='unavailable'/>`);
    const expected = this.#users.length * this.#init.contacts;
    const got = () => this.#users.reduce((n, u) => n + Math.min(u.unavailable, this.#init.contacts), 0);
    // A contact that went offline first gets nothing (RFC 6121 §4.5.2 broadcasts only to available
    // resources), so with everyone leaving at once about half of `expected` arrives: wait for the
    // count to stay still for 300 ms.
    let last = -1;
    let stillSince = Date.now();
    await this.#await(() => {
      const n = got();
      if (n !== last) {
        last = n;
        stillSince = Date.now();
      }
      return n >= expected || Date.now() - stillSince >= 300;
    }, timeoutMs);
    return this.#result(expected, got(), this.#users.length, null);
  }

  async close(): Promise<void> {
    this.#closing = true;
    const open = this.#users.flatMap((u) => (u.socket ? [u.socket] : []));
    for (let i = 0; i < open.length; i += 500) await Promise.all(open.slice(i, i + 500).map((s) => closeSocket(s, 2000)));
  }
}

if (workerData && (workerData as { driver?: string }).driver === 'presence') {
  const d = new PresenceDriver(workerData as PresenceInit);
  serveDriver({
    setup: () => d.setup(),
    online: (ms) => d.online(ms as number),
    updates: (a) => d.updates(a as { perUser: number; ratePerSec: number; timeoutMs: number }),
    offline: (ms) => d.offline(ms as number),
    close: () => d.close(),
  });
}
