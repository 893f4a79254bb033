// The primary thread supervises the shards: spawns one worker per shard, restarts a worker that
// dies (its rings survive in the SharedArrayBuffers, so peers keep their queued frames), collects
// metrics over the control port, and stops everything gracefully.
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/schema.ts';
import type { FromShard, ShardInit, ToShard } from '../shard/control.ts';
import type { Logger } from '../telemetry/log.ts';
import type { MeshInit } from '../transport/channel.ts';

const SHARD_ENTRY = new URL('../../workers/shard.ts', import.meta.url);
const RESTART_BACKOFF_MS = [100, 500, 2_000, 5_000];

interface Slot {
  worker: Worker;
  ready: boolean;
  restarts: number;
}

export class Supervisor {
  private readonly slots: Slot[] = [];
  private stopping = false;
  private nextMetricsId = 1;
  private readonly log: Logger;
  private readonly base: Omit<ShardInit, 'shardId'>;
  private readonly onRestart: (shard: number) => void;

  constructor(d: {
    config: Config;
    mesh: MeshInit;
    tls: { key: string; cert: string };
    secret: string;
    log: Logger;
    onRestart: (shard: number) => void;
  }) {
    this.log = d.log;
    this.base = { config: d.config, mesh: d.mesh, tls: d.tls, secret: d.secret };
    this.onRestart = d.onRestart;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Spawns every shard and resolves when all are ready (listening). */
  async start(): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let id = 0; id < this.base.config.workers; id++) ready.push(this.spawn(id, 0));
    await Promise.all(ready);
  }

  private spawn(shardId: number, restarts: number): Promise<void> {
    // V8's default young generation (up to ~48 MB per isolate) fills during login bursts and stays
    // committed: at 5,000 idle connections that was ~14 KB of RSS per connection (bench/RESULTS.md,
    // "Idle memory per connection"). 24 MB saves ~12 KB per connection there (28.2 -> 15.8 KB, plain)
    // at no measurable CPU cost per routed message (16.7 vs 17.9 us, one run each).
    const resourceLimits = { maxYoungGenerationSizeMb: 24 };
    const worker = new Worker(SHARD_ENTRY, {
      workerData: { ...this.base, shardId } satisfies ShardInit,
      execArgv: process.execArgv,
      resourceLimits,
    });
    const slot: Slot = { worker, ready: false, restarts };
    this.slots[shardId] = slot;
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: FromShard) => {
        if (msg.type === 'ready') {
          slot.ready = true;
          this.log.info({ worker: shardId, threadId: worker.threadId }, 'shard ready');
          resolve();
        }
      });
      worker.on('error', (err) => {
        this.log.error({ err, worker: shardId }, 'shard crashed');
        if (!slot.ready) reject(err);
      });
      worker.on('exit', (code) => {
        if (this.stopping || this.slots[shardId] !== slot) return;
        if (!slot.ready) return; // a failed start is reported by the 'error' handler
        this.log.warn({ worker: shardId, code }, 'shard exited; restarting');
        this.restart(shardId, slot.restarts + 1);
      });
    });
  }

  private restart(shardId: number, restarts: number): void {
    const delay = RESTART_BACKOFF_MS[Math.min(restarts - 1, RESTART_BACKOFF_MS.length - 1)] ?? 5_000;
    this.onRestart(shardId);
    // Peers drop the sessions whose connections lived on the dead shard, and close the
    // connections whose sessions lived there.
    this.broadcast({ type: 'peer-lost', shard: shardId }, shardId);
    setTimeout(() => {
      if (this.stopping) return;
      this.spawn(shardId, restarts).catch((err) => this.log.error({ err, worker: shardId }, 'restart failed'));
    }, delay);
  }

  private broadcast(msg: ToShard, except?: number): void {
    this.slots.forEach((slot, id) => {
      if (id !== except && slot.ready) slot.worker.postMessage(msg);
    });
  }

  /** Test hook: makes shard `id` throw an uncaught error. */
  crash(id: number): void {
    this.slots[id]?.worker.postMessage({ type: 'crash' } satisfies ToShard);
  }

  /**
   * Runs rpc `method` on shard `id` for an operator (control plane, not the hot path). Rejects with the
   * shard's error message; `code` carries a typed error's code (e.g. 'forbidden', 'item-not-found').
   */
  adminCall(id: number, method: string, params: unknown, timeoutMs = 10_000): Promise<unknown> {
    const slot = this.slots[id];
    if (!slot?.ready) return Promise.reject(Object.assign(new Error(`worker ${id} is not running`), { code: 'unavailable' }));
    const callId = this.nextMetricsId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(() => reject(Object.assign(new Error('worker did not answer'), { code: 'timeout' }))),
        timeoutMs,
      );
      const onMessage = (msg: FromShard) => {
        if (msg.type !== 'admin' || msg.id !== callId) return;
        finish(() =>
          msg.ok ? resolve(msg.value) : reject(Object.assign(new Error(msg.error ?? 'failed'), { code: msg.code ?? 'error' })),
        );
      };
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        slot.worker.off('message', onMessage);
        settle();
      };
      slot.worker.on('message', onMessage);
      slot.worker.postMessage({ type: 'admin', id: callId, method, params } satisfies ToShard);
    });
  }

  /** Each ready shard's prom-client JSON. */
  async collectMetrics(timeoutMs = 2_000): Promise<unknown[]> {
    const answers = this.slots
      .filter((s) => s.ready)
      .map((slot) => {
        const id = this.nextMetricsId++;
        return new Promise<unknown>((resolve) => {
          const timer = setTimeout(() => done(null), timeoutMs);
          const onMessage = (msg: FromShard) => {
            if (msg.type === 'metrics' && msg.id === id) done(msg.data);
          };
          const done = (data: unknown) => {
            clearTimeout(timer);
            slot.worker.off('message', onMessage);
            resolve(data);
          };
          slot.worker.on('message', onMessage);
          slot.worker.postMessage({ type: 'metrics', id } satisfies ToShard);
        });
      });
    return (await Promise.all(answers)).filter((d) => d !== null);
  }

  /** Asks every shard to close its streams and flush storage, then ends the threads. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              this.log.warn({ threadId: slot.worker.threadId }, 'shard did not stop in time; terminating');
              void slot.worker.terminate().then(() => resolve());
            }, timeoutMs);
            slot.worker.on('message', (msg: FromShard) => {
              if (msg.type === 'stopped') {
                clearTimeout(timer);
                void slot.worker.terminate().then(() => resolve());
              }
            });
            slot.worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            slot.worker.postMessage({ type: 'stop' } satisfies ToShard);
          }),
      ),
    );
  }
}
