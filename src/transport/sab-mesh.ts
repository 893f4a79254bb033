// The production Mesh: an N×N matrix of SabRings (one per ordered pair of shards, Seastar's smp queues)
// plus one doorbell per consumer shard, shared by every worker thread through workerData.
//
// Doorbells SharedArrayBuffer: one 64-byte slot per consumer shard (own cache line each):
//
//   slot s = bytes [64*s, 64*s+64)
//   +--------------+--------------+---- ... ----+
//   | doorbell i32 | sleeping i32 |  (padding)  |
//   +--------------+--------------+---- ... ----+
//     bumped by producers, waited on by shard s; sleeping is 1 only while s has no work and waits.
//
// Wake-up protocol (no lost wake-ups; Dekker's pattern on seq-cst atomics):
//   consumer:  v = load(doorbell); store(sleeping, 1); re-check every inbound ring and its own pending
//              outbound frames; if still nothing, Atomics.waitAsync(doorbell, v); on wake store(sleeping, 0).
//   producer:  store(tail) (in SabRing.trySend); later, once per event-loop turn per peer written to:
//              if load(sleeping) == 1 then add(doorbell, 1) and notify.
// Either the consumer's re-check sees the new tail, or the producer sees sleeping == 1 and bumps the
// doorbell, which makes a later waitAsync(v) return at once or an earlier one wake.
// Atomics.wait is never used: it would block the shard's event loop (sockets, timers, database).
//
// Backpressure: a full ring sends frames to a per-peer FIFO (Outbox); the producer then sets the ring's
// "producer waiting" flag and retries once. The consumer, after draining a ring whose flag is set, rings
// the *producer's* doorbell with the same protocol, so a blocked producer sleeps instead of polling and
// wakes as soon as there is room. We chose this over a timer poll: no latency floor, no idle CPU.
//
// Doorbell flush timing: queueMicrotask (default) rings at the end of the current callback, setImmediate
// after the poll phase. bench/ring.bench.ts measured no CPU difference between them (0.35-0.39 µs per
// 300-byte frame batched, 2.4-3.0 µs unbatched, on 2 cores), so the microtask wins on latency.

import type { Channel, Mesh, MeshHandlers, MeshInit, ShardId } from './channel.ts';
import { createRingBuffer, SabRing } from './sab-ring.ts';

const SLOT_INTS = 16; // 64 bytes per doorbell slot
const SLEEPING = 1;
/** Frames drained per event-loop turn before yielding with setImmediate (sockets must not starve). */
const DEFAULT_BUDGET = 512;
/** The budget is multiplied by this in a turn that starts with a ring more than half full (see #backlogged). */
const BACKLOG_BUDGET_FACTOR = 8;
/** Frames taken from one ring before moving to the next in a round-robin pass. */
const SLICE = 64;

// Atomics.waitAsync is ES2024 and present in Node 24; the project's tsconfig lib is ES2023, so type it here.
type WaitAsyncResult =
  | { readonly async: false; readonly value: 'not-equal' | 'timed-out' }
  | { readonly async: true; readonly value: Promise<'ok' | 'timed-out'> };
interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number): WaitAsyncResult;
}

export function createMeshInit(shards: number, ringBytes: number): MeshInit {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be >= 1, got ${shards}`);
  const rings: (SharedArrayBuffer | null)[] = [];
  for (let from = 0; from < shards; from++) {
    for (let to = 0; to < shards; to++) rings.push(from === to ? null : createRingBuffer(ringBytes));
  }
  return { shards, rings, doorbells: new SharedArrayBuffer(shards * SLOT_INTS * 4) };
}

/**
 * Per-peer FIFO for frames that found their channel full. Once a peer has a queued frame, every later
 * frame for it queues behind it, so per-sender order holds. Frames are copied (callers reuse buffers).
 * Shared by sab-mesh and loopback-mesh, which differ only in how "there is room again" is signalled.
 */
export class Outbox {
  handlers: MeshHandlers | null = null;
  /** Frames that had to wait in a queue, ever. */
  queued = 0;
  readonly #channels: readonly (Channel | null)[];
  readonly #maxFrame: number;
  readonly #arm: (ch: Channel) => void;
  readonly #written: (peer: ShardId) => void;
  readonly #queues: Uint8Array[][];
  readonly #heads: number[];
  #size = 0;

  /**
   * `arm(ch)` asks ch's consumer to signal after its next drain; `written(peer)` is told about every frame
   * that reached a channel (for the batched doorbell).
   */
  constructor(channels: readonly (Channel | null)[], maxFrame: number, arm: (ch: Channel) => void, written: (peer: ShardId) => void) {
    this.#channels = channels;
    this.#maxFrame = maxFrame;
    this.#arm = arm;
    this.#written = written;
    this.#queues = channels.map(() => []);
    this.#heads = channels.map(() => 0);
  }

  /** Frames waiting for ring space, all peers together. */
  get size(): number {
    return this.#size;
  }

  send(peer: ShardId, frame: Uint8Array): void {
    const ch = this.#channels[peer];
    const q = this.#queues[peer];
    if (!ch || !q) throw new RangeError(`no channel to shard ${peer}`);
    if (q.length === 0) {
      if (this.#push(ch, frame)) return this.#written(peer);
    } else if (frame.byteLength > this.#maxFrame) {
      // Checked here too so an oversize frame throws at the caller, never later inside retry().
      ch.trySend(frame);
    }
    q.push(frame.slice());
    this.#size++;
    this.queued++;
    if (q.length === 1) this.handlers?.onBackpressure?.(peer);
  }

  /** Moves queued frames into channels that have room. Returns how many went out. */
  retry(): number {
    if (this.#size === 0) return 0;
    let moved = 0;
    for (let peer = 0; peer < this.#queues.length; peer++) {
      const q = this.#queues[peer] as Uint8Array[];
      if (q.length === 0) continue;
      const ch = this.#channels[peer] as Channel;
      let h = this.#heads[peer] as number;
      while (h < q.length && this.#push(ch, q[h] as Uint8Array)) h++;
      const n = h - (this.#heads[peer] as number);
      if (n === 0) continue;
      moved += n;
      this.#size -= n;
      this.#written(peer);
      if (h === q.length) {
        q.length = 0;
        h = 0;
      } else if (h > 1024 && h * 2 > q.length) {
        q.splice(0, h); // compact now and then; keeps shift() off the hot path
        h = 0;
      }
      this.#heads[peer] = h;
    }
    if (moved > 0 && this.#size === 0) this.handlers?.onWritable?.();
    return moved;
  }

  #push(ch: Channel, frame: Uint8Array): boolean {
    if (ch.trySend(frame)) return true;
    this.#arm(ch); // then try again: the consumer may have drained before it could see the flag
    return ch.trySend(frame);
  }
}

export interface SabMeshOptions {
  /** Frames drained per turn before yielding (default 512). */
  readonly budget?: number;
  /** When the batched doorbell flush runs: end of the current macrotask (default) or the check phase. */
  readonly flush?: 'microtask' | 'immediate';
}

export interface SabMeshStats {
  sent: number;
  received: number;
  rejectedFull: number;
  queued: number;
  pending: number;
  turns: number;
  sleeps: number;
  wakeupsSent: number;
}

/** Runs in each worker: our row (outbound) and column (inbound) of the ring matrix. */
export function attachMesh(init: MeshInit, self: ShardId, options: SabMeshOptions = {}): SabMesh {
  return new SabMesh(init, self, options);
}

export class SabMesh implements Mesh {
  readonly self: ShardId;
  readonly shards: number;
  readonly #out: (SabRing | null)[];
  readonly #in: SabRing[];
  readonly #bells: Int32Array;
  readonly #outbox: Outbox;
  readonly #budget: number;
  readonly #flushMode: 'microtask' | 'immediate';
  readonly #dirty: Uint8Array;
  readonly #dirtyList: ShardId[] = [];
  readonly #counters = { turns: 0, sleeps: 0, wakeupsSent: 0 };
  #deliver: ((frame: Uint8Array) => void)[] = [];
  #flushScheduled = false;
  #running = false;
  #keepAlive: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  #poll: NodeJS.Timeout | null = null;
  #generation = 0;
  #rr = 0;

  constructor(init: MeshInit, self: ShardId, options: SabMeshOptions) {
    const n = init.shards;
    if (!Number.isInteger(self) || self < 0 || self >= n) throw new RangeError(`shard ${self} not in [0, ${n})`);
    if (init.rings.length !== n * n) throw new RangeError('MeshInit.rings must hold shards * shards entries');
    this.self = self;
    this.shards = n;
    this.#bells = new Int32Array(init.doorbells);
    this.#budget = options.budget ?? DEFAULT_BUDGET;
    this.#flushMode = options.flush ?? 'microtask';
    this.#dirty = new Uint8Array(n);
    const ring = (from: number, to: number): SabRing => {
      const sab = init.rings[from * n + to];
      if (!sab) throw new RangeError(`MeshInit lacks the ring ${from} -> ${to}`);
      return new SabRing(sab, from, to);
    };
    this.#out = [];
    this.#in = [];
    for (let peer = 0; peer < n; peer++) {
      this.#out.push(peer === self ? null : ring(self, peer));
      if (peer !== self) this.#in.push(ring(peer, self));
    }
    const maxFrame = this.#out.reduce((m, r) => (r ? Math.min(m, r.maxFrame) : m), Infinity);
    this.#outbox = new Outbox(
      this.#out,
      maxFrame,
      (ch) => (ch as SabRing).markProducerWaiting(),
      (peer) => this.#markDirty(peer),
    );
  }

  get backpressured(): boolean {
    return this.#outbox.size > 0;
  }

  get stats(): SabMeshStats {
    let sent = 0;
    let rejectedFull = 0;
    let received = 0;
    for (const r of this.#out) {
      if (!r) continue;
      sent += r.stats.sent;
      rejectedFull += r.stats.rejectedFull;
    }
    for (const r of this.#in) received += r.stats.received;
    const { queued, size: pending } = this.#outbox;
    return { sent, received, rejectedFull, queued, pending, ...this.#counters };
  }

  send(peer: ShardId, frame: Uint8Array): void {
    this.#outbox.send(peer, frame);
    if (!this.#running && this.#outbox.size > 0) this.#pollWhileStopped();
  }

  /**
   * Not started, or stopped with output still queued: nobody runs our loop to retry, so poll every ms
   * until the queue is empty (nothing is dropped). Unref'd: it only helps while something else keeps
   * this thread alive, and never holds a stopped worker open.
   */
  #pollWhileStopped(): void {
    if (this.#poll) return;
    this.#poll = setInterval(() => {
      this.#outbox.retry();
      if (this.#outbox.size === 0 && this.#poll) {
        clearInterval(this.#poll);
        this.#poll = null;
      }
    }, 1).unref();
  }

  channelTo(peer: ShardId): Channel {
    const r = this.#out[peer];
    if (!r) throw new RangeError(`no channel to shard ${peer}`);
    return r;
  }

  inbound(): readonly Channel[] {
    return this.#in;
  }

  start(handlers: MeshHandlers): void {
    if (this.#running) throw new Error('mesh already started');
    this.#running = true;
    this.#outbox.handlers = handlers;
    this.#deliver = this.#in.map((r) => {
      const from = r.from;
      return (frame: Uint8Array) => handlers.onFrame(from, frame);
    });
    if (this.#poll) {
      clearInterval(this.#poll);
      this.#poll = null;
    }
    // A pending Atomics.waitAsync does not keep the event loop alive (STYLE §3): hold a ref'd handle.
    this.#keepAlive = setInterval(() => {}, 0x7fffffff);
    this.#immediate = setImmediate(this.#turn);
  }

  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#generation++;
    if (this.#immediate) clearImmediate(this.#immediate);
    if (this.#keepAlive) clearInterval(this.#keepAlive);
    this.#immediate = null;
    this.#keepAlive = null;
    const bell = this.self * SLOT_INTS;
    Atomics.store(this.#bells, bell + SLEEPING, 0);
    // Resolve our own pending waitAsync so its promise does not linger.
    Atomics.add(this.#bells, bell, 1);
    Atomics.notify(this.#bells, bell);
    if (this.#outbox.size > 0) this.#pollWhileStopped();
  }

  readonly #turn = (): void => {
    this.#immediate = null;
    if (!this.#running) return;
    let exhausted = true; // if a handler throws, keep the loop alive and let the error surface
    try {
      exhausted = this.#drainBudget();
    } finally {
      if (this.#running) {
        if (exhausted) this.#immediate = setImmediate(this.#turn);
        else this.#sleep();
      }
    }
  };

  /** One turn: retry pending output, then drain inbound rings round-robin. True if the budget ran out. */
  #drainBudget(): boolean {
    this.#counters.turns++;
    this.#outbox.retry();
    const rings = this.#in;
    let budget = this.#backlogged() ? this.#budget * BACKLOG_BUDGET_FACTOR : this.#budget;
    const n = rings.length;
    let progressed = true;
    while (budget > 0 && progressed && this.#running) {
      progressed = false;
      for (let k = 0; k < n && budget > 0; k++) {
        const i = (this.#rr + k) % n;
        const ring = rings[i] as SabRing;
        const got = ring.drain(Math.min(budget, SLICE), this.#deliver[i] as (f: Uint8Array) => void);
        if (got === 0) continue;
        budget -= got;
        progressed = true;
        if (ring.takeProducerWaiting()) this.#ringBell(ring.from);
      }
      this.#rr = n === 0 ? 0 : (this.#rr + 1) % n;
    }
    return budget === 0;
  }

  #sleep(): void {
    const bell = this.self * SLOT_INTS;
    const v = Atomics.load(this.#bells, bell);
    Atomics.store(this.#bells, bell + SLEEPING, 1);
    // Re-check after publishing `sleeping`: a producer that stored its tail before reading our flag as 0
    // did not ring, so its frame is visible now; likewise a consumer that freed room in a ring we wait on.
    if (this.#anyInbound() || this.#outbox.retry() > 0 || !this.#running) {
      Atomics.store(this.#bells, bell + SLEEPING, 0);
      if (!this.#running) return; // an onWritable handler called stop()
      this.#immediate = setImmediate(this.#turn);
      return;
    }
    this.#counters.sleeps++;
    const generation = ++this.#generation;
    const wait = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.#bells, bell, v);
    if (wait.async) void wait.value.then(() => this.#wake(generation));
    else this.#wake(generation); // 'not-equal': rung between our load and the wait
  }

  #wake(generation: number): void {
    if (generation !== this.#generation || !this.#running) return;
    Atomics.store(this.#bells, this.self * SLOT_INTS + SLEEPING, 0);
    this.#immediate = setImmediate(this.#turn);
  }

  /**
   * Whether an inbound ring is more than half full: another shard is producing faster than this one drains.
   * Its frames are work that shard already accepted from its clients (which it pauses while the ring is
   * full), so this turn drains more of them before this shard's own sockets get the next poll phase. With
   * a fixed budget the other shard's clients waited seconds at saturation (bench/RESULTS.md, session 3).
   */
  #backlogged(): boolean {
    for (const r of this.#in) if (r.occupancy > r.capacity / 2) return true;
    return false;
  }

  #anyInbound(): boolean {
    for (const r of this.#in) if (r.occupancy !== 0) return true;
    return false;
  }

  #markDirty(peer: ShardId): void {
    if (this.#dirty[peer] === 1) return;
    this.#dirty[peer] = 1;
    this.#dirtyList.push(peer);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    if (this.#flushMode === 'microtask') queueMicrotask(this.#flush);
    else setImmediate(this.#flush);
  }

  /** The batched doorbell: at most one ring per peer per turn, and only if that peer sleeps. */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    for (const peer of this.#dirtyList) {
      this.#dirty[peer] = 0;
      this.#ringBell(peer);
    }
    this.#dirtyList.length = 0;
  };

  #ringBell(peer: ShardId): void {
    const bell = peer * SLOT_INTS;
    if (Atomics.load(this.#bells, bell + SLEEPING) !== 1) return;
    Atomics.add(this.#bells, bell, 1);
    Atomics.notify(this.#bells, bell);
    this.#counters.wakeupsSent++;
  }
}
