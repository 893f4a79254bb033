// Micro-benchmark: CPU µs per 300-byte frame from one worker thread to another over SabMesh.
//   node bench/ring.bench.ts            (Node 24; bounded: about 5-10 s, stops by itself)
// Modes: frames per producer turn (1 = unbatched, 100 = batched), doorbell flush on a microtask or
// setImmediate, raw bytes or UTF-8 text (encodeInto + TextDecoder, as the envelope will do).
// Prints one JSON line (all results) and a table. CPU is per-thread (process.threadCpuUsage), the figure
// to trust on a shared 2-core machine; wall time is shown for context only.
// This file is both the main program and, in worker threads, the two shards.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { MeshInit } from '../src/transport/channel.ts';
import { attachMesh, createMeshInit, type SabMeshStats } from '../src/transport/sab-mesh.ts';

interface Run {
  readonly batch: number;
  readonly flush: 'microtask' | 'immediate';
  readonly text: boolean;
  readonly frames: number;
}
interface Side {
  cpuUs: number;
  wallMs: number;
  stats: SabMeshStats;
}
interface Job extends Run {
  readonly init: MeshInit;
  readonly role: 'producer' | 'consumer';
}

const FRAME_BYTES = 300;
const RING_BYTES = 64 * 1024;
const RUN_TIMEOUT_MS = 4000;

const cpuNow = (): number => {
  const c = process.threadCpuUsage();
  return c.user + c.system;
};

function shard(job: Job): void {
  const port = parentPort;
  if (!port) return;
  const self = job.role === 'producer' ? 0 : 1;
  const mesh = attachMesh(job.init, self, { flush: job.flush });
  const finish = (): void => {
    const side: Side = { cpuUs: cpuNow() - cpu0, wallMs: performance.now() - wall0, stats: mesh.stats };
    mesh.stop();
    port.postMessage(side);
    port.close();
  };
  let cpu0 = 0;
  let wall0 = 0;
  let received = 0;
  let checksum = 0;
  const decoder = new TextDecoder();
  let resume: (() => void) | null = null;
  mesh.start({
    // The producer pauses while frames wait for ring space, as a shard pauses its sockets.
    onWritable: () => resume?.(),
    onFrame(_from, frame) {
      // Touch the payload so the consumer pays for reading it, as the router will.
      checksum = (checksum + (job.text ? decoder.decode(frame).length : (frame[FRAME_BYTES - 1] as number))) | 0;
      if (++received === job.frames) finish();
    },
  });
  port.once('message', () => {
    cpu0 = cpuNow();
    wall0 = performance.now();
    if (job.role === 'consumer') return;
    const text = 'x'.repeat(FRAME_BYTES - 10);
    const encoder = new TextEncoder();
    const buf = new Uint8Array(FRAME_BYTES);
    let sent = 0;
    const pump = (): void => {
      resume = null;
      for (let n = 0; n < job.batch && sent < job.frames; n++, sent++) {
        if (job.text) {
          const { written } = encoder.encodeInto(`${sent.toString().padStart(10, '0')}${text}`, buf);
          mesh.send(1, buf.subarray(0, written));
        } else {
          buf[FRAME_BYTES - 1] = sent & 0xff;
          mesh.send(1, buf);
        }
      }
      if (mesh.backpressured) resume = pump;
      else if (sent < job.frames) setImmediate(pump);
      else finish();
    };
    pump();
  });
  port.postMessage('ready');
}

async function measure(run: Run): Promise<{ producer: Side; consumer: Side }> {
  const init = createMeshInit(2, RING_BYTES);
  const workers = (['producer', 'consumer'] as const).map(
    (role) => new Worker(new URL(import.meta.url), { workerData: { ...run, init, role } satisfies Job }),
  );
  const first = (w: Worker): Promise<unknown> =>
    new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  await Promise.all(workers.map(first));
  const results = workers.map(first) as Promise<Side>[];
  for (const w of workers) w.postMessage('go');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`run ${JSON.stringify(run)} exceeded ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
  });
  try {
    const [producer, consumer] = (await Promise.race([Promise.all(results), timeout])) as Side[];
    return { producer: producer as Side, consumer: consumer as Side };
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

async function main(): Promise<void> {
  const runs: Run[] = [];
  for (const text of [false, true]) {
    for (const flush of ['microtask', 'immediate'] as const) {
      runs.push({ batch: 1, flush, text, frames: 50_000 });
      runs.push({ batch: 100, flush, text, frames: 400_000 });
    }
  }
  const rows = [];
  for (const run of runs) {
    const { producer, consumer } = await measure(run);
    rows.push({
      ...run,
      usPerFrame: +((producer.cpuUs + consumer.cpuUs) / run.frames).toFixed(3),
      producerUs: +(producer.cpuUs / run.frames).toFixed(3),
      consumerUs: +(consumer.cpuUs / run.frames).toFixed(3),
      wallMs: Math.round(Math.max(producer.wallMs, consumer.wallMs)),
      wakeupsPerFrame: +(producer.stats.wakeupsSent / run.frames).toFixed(4),
      queued: producer.stats.queued,
    });
  }
  const meta = {
    node: process.version,
    cpus: (await import('node:os')).availableParallelism(),
    frameBytes: FRAME_BYTES,
    ringBytes: RING_BYTES,
  };
  console.log(JSON.stringify({ bench: 'ring', ...meta, rows }));
  console.log('\nframes/turn  flush      payload  µs CPU/frame (prod + cons)  wake-ups/frame  wall ms');
  for (const r of rows) {
    console.log(
      `${String(r.batch).padStart(11)}  ${r.flush.padEnd(9)}  ${(r.text ? 'utf8' : 'bytes').padEnd(7)}  ` +
        `${r.usPerFrame.toFixed(3).padStart(6)} (${r.producerUs.toFixed(3)} + ${r.consumerUs.toFixed(3)})`.padEnd(27) +
        `  ${r.wakeupsPerFrame.toFixed(4).padStart(14)}  ${String(r.wallMs).padStart(7)}`,
    );
  }
}

if (isMainThread) await main();
else shard(workerData as Job);
