// The only view the router has of other shards: one single-producer/single-consumer channel per
// ordered pair of shards (Seastar's N×N smp queues). Implementations: sab-mesh.ts (production, across
// worker threads) and loopback-mesh.ts (tests, one thread); both pass test/unit/transport/channel.contract.ts.

export type ShardId = number;

/** One direction, one producer thread, one consumer thread. */
export interface Channel {
  readonly from: ShardId;
  readonly to: ShardId;
  /** Copies `frame` into the ring. `false` means full: nothing was written, the caller applies backpressure. */
  trySend(frame: Uint8Array): boolean;
  /** Passes up to `max` frames to `onFrame`; each view is valid only during the call. Returns how many. */
  drain(max: number, onFrame: (frame: Uint8Array) => void): number;
  /** Bytes currently queued (for the ring-occupancy gauge). */
  readonly occupancy: number;
  readonly capacity: number;
  readonly stats: Readonly<{ sent: number; received: number; rejectedFull: number }>;
}

/** The serialisable description of a mesh, handed to each worker in workerData. */
export interface MeshInit {
  readonly shards: number;
  /** SharedArrayBuffers, one per ring, indexed from * shards + to (the diagonal is unused). */
  readonly rings: readonly (SharedArrayBuffer | null)[];
  /** One Int32 doorbell and one "sleeping" flag per consumer shard. */
  readonly doorbells: SharedArrayBuffer;
}

export interface MeshHandlers {
  /** Called for every inbound frame, in order per sender; the view is valid only during the call. */
  onFrame(from: ShardId, frame: Uint8Array): void;
  /** Called when every outbound queue has drained after a period of backpressure. */
  onWritable?(): void;
  /** Called when an outbound ring was full and frames are queued (pause reading sockets). */
  onBackpressure?(peer: ShardId): void;
}

export interface Mesh {
  readonly self: ShardId;
  readonly shards: number;
  /**
   * Queues a frame for `peer`. Never drops: when the ring is full, the frame waits in a local queue
   * (reported through onBackpressure) and goes out in order as soon as the ring has room. Wake-ups are
   * batched: at most one notify per peer per event-loop turn, and only when the consumer sleeps.
   */
  send(peer: ShardId, frame: Uint8Array): void;
  /** True while any outbound frame is waiting for ring space. */
  readonly backpressured: boolean;
  /** Starts draining inbound rings (budgeted per turn, `Atomics.waitAsync` when idle) into handlers. */
  start(handlers: MeshHandlers): void;
  /** Stops draining and releases the ref that keeps the event loop alive. */
  stop(): void;
  channelTo(peer: ShardId): Channel;
  inbound(): readonly Channel[];
}
