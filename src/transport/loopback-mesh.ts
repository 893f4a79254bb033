// The Mesh contract in one thread, for tests of the router and of whole shards without worker threads
// (STYLE §4.4, §4.6). Same semantics as sab-mesh: bounded channels with the same byte accounting and
// frame limit, asynchronous delivery (setImmediate, never inside send()), per-sender order, per-turn
// drain budget, and the same Outbox for backpressure, so code tested here behaves the same across threads.

import type { Channel, Mesh, MeshHandlers, ShardId } from './channel.ts';
import { Outbox } from './sab-mesh.ts';
import { FrameTooLargeError, maxFrameBytes, recordBytes } from './sab-ring.ts';

const BUDGET = 512;
const SLICE = 64;
const DEFAULT_CHANNEL_BYTES = 1 << 16;

/** A bounded in-memory Channel that counts bytes exactly like SabRing (minus wrap-around padding). */
export class MemoryChannel implements Channel {
  readonly from: ShardId;
  readonly to: ShardId;
  readonly capacity: number;
  readonly maxFrame: number;
  readonly stats = { sent: 0, received: 0, rejectedFull: 0 };
  #frames: Uint8Array[] = [];
  #head = 0;
  #used = 0;
  #producerWaiting = false;

  constructor(from: ShardId, to: ShardId, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 64) throw new RangeError(`capacity must be >= 64, got ${capacity}`);
    this.from = from;
    this.to = to;
    this.capacity = capacity;
    this.maxFrame = maxFrameBytes(capacity);
  }

  get occupancy(): number {
    return this.#used;
  }

  trySend(frame: Uint8Array): boolean {
    if (frame.byteLength > this.maxFrame) throw new FrameTooLargeError(frame.byteLength, this.maxFrame);
    const need = recordBytes(frame.byteLength);
    if (this.capacity - this.#used < need) {
      this.stats.rejectedFull++;
      return false;
    }
    this.#frames.push(frame.slice()); // the caller may reuse its buffer, as with a real ring
    this.#used += need;
    this.stats.sent++;
    return true;
  }

  drain(max: number, onFrame: (frame: Uint8Array) => void): number {
    let n = 0;
    try {
      while (n < max && this.#head < this.#frames.length) {
        const frame = this.#frames[this.#head++] as Uint8Array;
        this.#used -= recordBytes(frame.byteLength);
        n++;
        onFrame(frame);
      }
    } finally {
      this.stats.received += n;
      if (this.#head === this.#frames.length) {
        this.#frames = [];
        this.#head = 0;
      }
    }
    return n;
  }

  markProducerWaiting(): void {
    this.#producerWaiting = true;
  }

  takeProducerWaiting(): boolean {
    const was = this.#producerWaiting;
    this.#producerWaiting = false;
    return was;
  }
}

class LoopbackMesh implements Mesh {
  readonly self: ShardId;
  readonly shards: number;
  readonly #peers: readonly LoopbackMesh[];
  readonly #out: (MemoryChannel | null)[];
  readonly #in: MemoryChannel[] = [];
  readonly #outbox: Outbox;
  #deliver: ((frame: Uint8Array) => void)[] = [];
  #running = false;
  #immediate: NodeJS.Immediate | null = null;
  #rr = 0;

  constructor(self: ShardId, peers: readonly LoopbackMesh[], out: (MemoryChannel | null)[]) {
    this.self = self;
    this.shards = out.length;
    this.#peers = peers;
    this.#out = out;
    const maxFrame = out.reduce((m, c) => (c ? Math.min(m, c.maxFrame) : m), Infinity);
    this.#outbox = new Outbox(
      out,
      maxFrame,
      (ch) => (ch as MemoryChannel).markProducerWaiting(),
      (peer) => this.#peers[peer]?.schedule(),
    );
  }

  /** Wiring, called once by createLoopbackMeshes after every mesh exists. */
  addInbound(ch: MemoryChannel): void {
    this.#in.push(ch);
  }

  get backpressured(): boolean {
    return this.#outbox.size > 0;
  }

  send(peer: ShardId, frame: Uint8Array): void {
    this.#outbox.send(peer, frame);
  }

  channelTo(peer: ShardId): Channel {
    const c = this.#out[peer];
    if (!c) throw new RangeError(`no channel to shard ${peer}`);
    return c;
  }

  inbound(): readonly Channel[] {
    return this.#in;
  }

  start(handlers: MeshHandlers): void {
    if (this.#running) throw new Error('mesh already started');
    this.#running = true;
    this.#outbox.handlers = handlers;
    this.#deliver = this.#in.map((c) => {
      const from = c.from;
      return (frame: Uint8Array) => handlers.onFrame(from, frame);
    });
    this.schedule();
  }

  stop(): void {
    this.#running = false;
  }

  /** Runs a turn soon: frames arrived for us, or a ring we are blocked on has room. */
  schedule(): void {
    this.#immediate ??= setImmediate(this.#turn);
  }

  readonly #turn = (): void => {
    this.#immediate = null;
    this.#outbox.retry(); // even when stopped: queued output is never dropped
    if (!this.#running) return;
    let budget = BUDGET;
    let progressed = true;
    let exhausted = true; // a throwing handler must not stall the loop: reschedule, then let it surface
    const n = this.#in.length;
    try {
      while (budget > 0 && progressed && this.#running) {
        progressed = false;
        for (let k = 0; k < n && budget > 0; k++) {
          const i = (this.#rr + k) % n;
          const ch = this.#in[i] as MemoryChannel;
          const got = ch.drain(Math.min(budget, SLICE), this.#deliver[i] as (f: Uint8Array) => void);
          if (got === 0) continue;
          budget -= got;
          progressed = true;
          if (ch.takeProducerWaiting()) this.#peers[ch.from]?.schedule();
        }
        this.#rr = n === 0 ? 0 : (this.#rr + 1) % n;
      }
      exhausted = budget <= 0;
    } finally {
      if (exhausted && this.#running) this.schedule(); // yield to I/O, then go on draining
    }
  };
}

/** `shards` meshes wired to each other in this thread; channel capacity defaults to 64 KiB. */
export function createLoopbackMeshes(shards: number, channelBytes: number = DEFAULT_CHANNEL_BYTES): Mesh[] {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be >= 1, got ${shards}`);
  const meshes: LoopbackMesh[] = [];
  const channels: (MemoryChannel | null)[][] = [];
  for (let from = 0; from < shards; from++) {
    const row: (MemoryChannel | null)[] = [];
    for (let to = 0; to < shards; to++) row.push(from === to ? null : new MemoryChannel(from, to, channelBytes));
    channels.push(row);
    meshes.push(new LoopbackMesh(from, meshes, row));
  }
  for (let from = 0; from < shards; from++) {
    for (let to = 0; to < shards; to++) {
      const ch = channels[from]?.[to];
      if (ch) meshes[to]?.addInbound(ch);
    }
  }
  return meshes;
}
