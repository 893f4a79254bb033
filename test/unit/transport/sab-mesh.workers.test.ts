// SabMesh across real worker threads (node:worker_threads; the fixture is .ts and runs through the same
// loader as this file, since workers inherit execArgv, or through Node 24's type stripping without tap).
import t from 'tap';
import { Worker } from 'node:worker_threads';
import type { MeshInit } from '../../../src/transport/channel.ts';
import { attachMesh, createMeshInit, type SabMeshStats } from '../../../src/transport/sab-mesh.ts';
import { until } from './channel.contract.ts';

const FIXTURE = new URL('./fixtures/mesh-worker.ts', import.meta.url);

interface Msg {
  type: string;
  expected?: number[];
  errors?: string[];
  pressure?: number;
  writable?: number;
  stats?: SabMeshStats;
  cpu?: NodeJS.CpuUsage;
}

/** A worker and every message it sent, with a way to wait for the next one of a type. */
function spawn(workerData: { mode: string; init: MeshInit; self: number } & Record<string, unknown>) {
  const w = new Worker(FIXTURE, { workerData });
  const log: Msg[] = [];
  const exited = new Promise<number>((resolve, reject) => {
    w.once('exit', resolve);
    w.once('error', reject);
  });
  w.on('message', (m: Msg) => log.push(m));
  /** The first message of `type` at or after log index `from`. */
  const find = async (type: string, from: number, ms: number): Promise<Msg> => {
    const hit = (): Msg | undefined => log.slice(from).find((m) => m.type === type);
    await until(() => hit() !== undefined, ms, `worker ${type}`);
    return hit() as Msg;
  };
  const next = (type: string, ms = 10_000): Promise<Msg> => find(type, log.length, ms);
  const seen = (type: string, ms: number): Promise<Msg> => find(type, 0, ms);
  return { w, log, exited, next, seen };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const shards of [2, 3]) {
  t.test(`${shards} shards flood each other through 4 KiB rings`, async (t) => {
    const perPeer = 200_000;
    const init = createMeshInit(shards, 4096);
    const workers = Array.from({ length: shards }, (_, self) => spawn({ mode: 'flood', init, self, perPeer, burst: 256 }));
    t.teardown(() => Promise.all(workers.map((x) => x.w.terminate())));
    const started = performance.now();
    for (const x of workers) {
      await x.seen('sent-all', 60_000);
      await x.seen('received-all', 60_000);
    }
    const elapsed = performance.now() - started;
    for (const x of workers) x.w.postMessage({ type: 'stop' });
    const exits = await Promise.race([Promise.all(workers.map((x) => x.exited)), sleep(5000).then(() => 'still running')]);
    t.same(
      exits,
      workers.map(() => 0),
      'every worker ended by itself once its mesh stopped',
    );
    workers.forEach((x, self) => {
      const recv = x.log.find((m) => m.type === 'received-all') as Msg;
      const sent = x.log.find((m) => m.type === 'sent-all') as Msg;
      const stats = (x.log.find((m) => m.type === 'stopped') as Msg).stats as SabMeshStats;
      t.same(recv.errors, [], `shard ${self}: every frame intact and in order`);
      t.same(
        recv.expected,
        init.rings.slice(0, shards).map((_, from) => (from === self ? 0 : perPeer)),
        `shard ${self}: exactly ${perPeer} from each peer`,
      );
      t.ok(
        (sent.pressure ?? 0) > 0 && (sent.writable ?? 0) > 0,
        `shard ${self}: backpressure (${sent.pressure}) and writable (${sent.writable}) both happened`,
      );
      t.equal(stats.sent, perPeer * (shards - 1));
      t.equal(stats.received, perPeer * (shards - 1), 'no duplicates');
      t.equal(stats.pending, 0);
      t.ok(stats.rejectedFull > 0, 'rings were full');
    });
    t.comment(`${shards} shards: ${(perPeer * shards * (shards - 1)) / 1000}k frames in ${elapsed.toFixed(0)} ms`);
  });
}

t.test('an idle consumer sleeps without spinning and wakes when a frame arrives', async (t) => {
  const init = createMeshInit(2, 4096);
  const worker = spawn({ mode: 'echo', init, self: 0 });
  t.teardown(() => worker.w.terminate());
  await worker.seen('ready', 10_000);
  const local = attachMesh(init, 1);
  const echoes: number[] = [];
  let onEcho: (() => void) | null = null;
  local.start({
    onFrame: (_from, f) => {
      echoes.push(f[0] as number);
      onEcho?.();
    },
  });
  t.teardown(() => local.stop());

  const probe = async (): Promise<Msg> => {
    const reply = worker.next('probe');
    worker.w.postMessage({ type: 'probe' });
    return reply;
  };
  await sleep(50);
  const before = await probe();
  await sleep(300);
  const after = await probe();
  const cpuUs = (c: NodeJS.CpuUsage | undefined): number => (c ? c.user + c.system : NaN);
  const idleCpu = cpuUs(after.cpu) - cpuUs(before.cpu);
  t.ok(idleCpu < 20_000, `worker used ${idleCpu} µs of CPU in 300 ms idle`);
  t.equal(after.stats?.turns, before.stats?.turns, 'no mesh turns while idle: it waits, it does not poll');
  t.equal(after.stats?.sleeps, before.stats?.sleeps);

  const latencies: number[] = [];
  for (let i = 0; i < 20; i++) {
    const echoed = new Promise<void>((resolve) => (onEcho = resolve));
    const t0 = performance.now();
    local.send(0, Uint8Array.of(i));
    await Promise.race([echoed, sleep(2000)]);
    latencies.push(performance.now() - t0);
    await sleep(5); // let both sides fall asleep again
  }
  t.same(
    echoes,
    Array.from({ length: 20 }, (_, i) => i),
    'each frame woke the sleeper and came back',
  );
  const woke = await probe();
  t.ok((woke.stats?.sleeps ?? 0) >= (before.stats?.sleeps ?? 0) + 20, 'it went back to sleep after every frame');
  latencies.sort((a, b) => a - b);
  t.comment(`round trip through two sleeping shards: median ${latencies[10]?.toFixed(3)} ms, max ${latencies[19]?.toFixed(3)} ms`);

  worker.w.postMessage({ type: 'stop' });
  const code = await Promise.race([worker.exited, sleep(5000).then(() => 'still running')]);
  t.equal(code, 0, 'the worker ended by itself after stop()');
});
