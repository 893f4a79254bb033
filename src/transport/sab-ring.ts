// Single-producer/single-consumer byte ring over one SharedArrayBuffer (Seastar's smp queue, or the
// LMAX/Vyukov SPSC ring): one thread only writes, one thread only reads, and the only shared writes are
// two published positions, so no locks and no CAS. Hand-written on purpose: the npm ring buffers we know
// of (ringbuffer.js, sharedarraybuffer-ring) carry fixed-size samples or need a lock, not length-prefixed
// frames with a "producer waiting" handshake.
//
// Memory layout (byte offsets; head and tail on separate 64-byte cache lines so the two threads do not
// false-share on every frame):
//
//   0        4            64       68               128                              128 + capacity
//   +--------+----- ... --+--------+------- ... ----+---------------------- ... ----+
//   | head   |  (padding) | tail   | producer       | frames (capacity bytes,        |
//   | i32    |            | i32    | waiting i32    |  a power of two)               |
//   +--------+----- ... --+--------+------- ... ----+---------------------- ... ----+
//   written by consumer    written by producer;        record = [u32 length][bytes][pad to 4]
//                          "waiting" set by producer,  PAD_MARKER = 0xffffffff: skip to offset 0
//                          cleared by consumer
//
// head and tail are free-running 32-bit positions (they wrap at 2^32, which the power-of-two capacity
// divides), so `tail - head` is the used byte count and `pos & (capacity - 1)` the offset. Records are
// 4-byte aligned, so a length word never straddles the end of the buffer. A record that does not fit
// contiguously before the end is preceded by a PAD_MARKER and written at offset 0.
//
// Publication: the producer writes the record bytes with plain stores, then Atomics.store(tail). The
// consumer Atomics.load(tail)s before reading bytes. In the ECMAScript memory model a seq-cst store read by
// a seq-cst load synchronizes-with it, so the bytes are visible. The same holds for head in the other
// direction (the consumer is done with the bytes before it publishes head).

import type { Channel, ShardId } from './channel.ts';

const HEAD = 0; // Int32 index of head (byte 0)
const TAIL = 16; // Int32 index of tail (byte 64)
const WAITING = 17; // Int32 index of the producer-waiting flag (byte 68)
/** Bytes before the frame area. */
export const RING_HEADER_BYTES = 128;
const PAD_MARKER = 0xffffffff;
const LENGTH_BYTES = 4;

/** Bytes a frame of `len` bytes occupies in the ring (length word plus bytes, rounded up to 4). */
export function recordBytes(len: number): number {
  return LENGTH_BYTES + ((len + 3) & ~3);
}

/**
 * Largest frame a ring of `capacity` frame bytes accepts. A record of at most half the capacity always
 * fits in an empty ring wherever its head is (either it fits before the end, or the end gap is smaller
 * than the record and the record fits in the part before head), so an accepted frame can never get stuck.
 */
export function maxFrameBytes(capacity: number): number {
  return capacity / 2 - LENGTH_BYTES;
}

/** Allocates a ring with `capacityBytes` of frame space (a power of two, 64 B..1 GiB) plus the header. */
export function createRingBuffer(capacityBytes: number): SharedArrayBuffer {
  if (!Number.isInteger(capacityBytes) || capacityBytes < 64 || capacityBytes > 2 ** 30) {
    throw new RangeError(`ring capacity must be an integer in [64, 2^30], got ${capacityBytes}`);
  }
  if ((capacityBytes & (capacityBytes - 1)) !== 0) {
    throw new RangeError(`ring capacity must be a power of two, got ${capacityBytes}`);
  }
  return new SharedArrayBuffer(RING_HEADER_BYTES + capacityBytes);
}

/** Thrown by trySend for a frame that no amount of draining would make room for. */
export class FrameTooLargeError extends RangeError {
  readonly code = 'ERR_FRAME_TOO_LARGE';
  constructor(len: number, max: number) {
    super(`ERR_FRAME_TOO_LARGE: frame of ${len} bytes exceeds the ring maximum of ${max} bytes`);
    this.name = 'FrameTooLargeError';
  }
}

/**
 * One direction of the mesh. Each thread makes its own SabRing over the shared buffer: the producer's
 * object only calls trySend, the consumer's only drain. `stats` count what this object did, so the
 * producer's instance reports `sent`/`rejectedFull` and the consumer's `received`.
 */
export class SabRing implements Channel {
  readonly from: ShardId;
  readonly to: ShardId;
  readonly capacity: number;
  readonly maxFrame: number;
  readonly stats = { sent: 0, received: 0, rejectedFull: 0 };
  readonly #ctl: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #words: Uint32Array;
  readonly #mask: number;
  /** Producer's last seen head: re-read from shared memory only when the ring looks full. */
  #headSeen = 0;
  /** Consumer's last seen tail: re-read when the ring looks empty. */
  #tailSeen = 0;

  constructor(sab: SharedArrayBuffer, from: ShardId, to: ShardId) {
    const capacity = sab.byteLength - RING_HEADER_BYTES;
    if (capacity < 64 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError('SabRing needs a buffer from createRingBuffer()');
    }
    this.from = from;
    this.to = to;
    this.capacity = capacity;
    this.maxFrame = maxFrameBytes(capacity);
    this.#ctl = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
    this.#bytes = new Uint8Array(sab, RING_HEADER_BYTES, capacity);
    this.#words = new Uint32Array(sab, RING_HEADER_BYTES, capacity / 4);
    this.#mask = capacity - 1;
    this.#headSeen = Atomics.load(this.#ctl, HEAD);
    this.#tailSeen = Atomics.load(this.#ctl, TAIL);
  }

  get occupancy(): number {
    return (Atomics.load(this.#ctl, TAIL) - Atomics.load(this.#ctl, HEAD)) | 0;
  }

  /** Producer side. Throws FrameTooLargeError (code ERR_FRAME_TOO_LARGE) for frames over maxFrame. */
  trySend(frame: Uint8Array): boolean {
    const len = frame.byteLength;
    if (len > this.maxFrame) throw new FrameTooLargeError(len, this.maxFrame);
    const need = recordBytes(len);
    // Only the producer writes tail, so a plain read of our own last value would do; Atomics.load keeps
    // every access to the control words atomic, which is what the memory model argument above assumes.
    const tail = Atomics.load(this.#ctl, TAIL);
    const off = tail & this.#mask;
    const gap = this.capacity - off; // contiguous bytes before the end
    const total = need <= gap ? need : gap + need;
    if (this.capacity - ((tail - this.#headSeen) | 0) < total) {
      this.#headSeen = Atomics.load(this.#ctl, HEAD);
      if (this.capacity - ((tail - this.#headSeen) | 0) < total) {
        this.stats.rejectedFull++;
        return false;
      }
    }
    let at = off;
    if (need > gap) {
      this.#words[off >> 2] = PAD_MARKER;
      at = 0;
    }
    this.#words[at >> 2] = len;
    if (len > 0) this.#bytes.set(frame, at + LENGTH_BYTES);
    Atomics.store(this.#ctl, TAIL, (tail + total) | 0); // publish after the bytes are written
    this.stats.sent++;
    return true;
  }

  /** Consumer side. Frames are views into shared memory, valid only during the call. */
  drain(max: number, onFrame: (frame: Uint8Array) => void): number {
    let head = Atomics.load(this.#ctl, HEAD);
    let n = 0;
    try {
      while (n < max) {
        if (head === this.#tailSeen) {
          this.#tailSeen = Atomics.load(this.#ctl, TAIL);
          if (head === this.#tailSeen) break;
        }
        let off = head & this.#mask;
        let len = this.#words[off >> 2] as number;
        if (len === PAD_MARKER) {
          head = (head + this.capacity - off) | 0;
          off = 0;
          len = this.#words[0] as number;
        }
        const start = off + LENGTH_BYTES;
        // Advance before the callback: a frame whose handler throws counts as delivered, not re-read.
        head = (head + recordBytes(len)) | 0;
        n++;
        onFrame(this.#bytes.subarray(start, start + len));
      }
    } finally {
      if (n > 0) Atomics.store(this.#ctl, HEAD, head);
      this.stats.received += n;
    }
    return n;
  }

  /**
   * Producer: flags that it is waiting for space. Call after a failed trySend, then try once more (the
   * consumer may have drained in between); the consumer sees the flag after its next head store. This is
   * Dekker's pattern on (head, waiting) with seq-cst atomics, so one of the two sides always sees the other.
   */
  markProducerWaiting(): void {
    Atomics.store(this.#ctl, WAITING, 1);
  }

  /** Consumer: true (and clears the flag) if the producer asked to hear about freed space. */
  takeProducerWaiting(): boolean {
    return Atomics.load(this.#ctl, WAITING) === 1 && Atomics.exchange(this.#ctl, WAITING, 0) === 1;
  }
}
