// Offline-message pushes into one user-group file: one autocommit execute per row vs the WriteBatcher
// (group commit per event-loop turn, capped batches), and how long the thread is blocked while 10k writes
// are queued. Bounded: fixed row counts plus a 20 s deadline. Prints one JSON line, then a table.
//   PATH=node_modules/.bin:$PATH node --expose-gc bench/libsql.bench.ts [rows]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { OfflineRepo } from '../src/storage/offline-repo.ts';
import { UserDb } from '../src/storage/user-db.ts';
import { DEFAULT_MAX_BATCH_STATEMENTS } from '../src/storage/write-batcher.ts';

const ROWS = Number(process.argv[2] ?? 10_000);
const USERS = 500;
const DEADLINE = performance.now() + 20_000;
const XML = `<message from="romeo@example.org/a" to="juliet@example.org" type="chat" id="x"><body>${'wherefore art thou '.repeat(18)}</body></message>`;
const PUSH_SQL = `INSERT INTO offline_messages (jid, stamp, xml)
  SELECT ?1, ?2, ?3 WHERE (SELECT count(*) FROM offline_messages WHERE jid = ?1) < ?4`;

interface Result {
  strategy: string;
  rows: number;
  rowsPerSec: number;
  cpuUsPerRow: number;
  /** The turn that issued all the writes (caller side: 10k async calls and their microtasks), ms. */
  enqueueMs: number;
  /** Longest gap between two event-loop turns while the writes drained: what a socket would wait, ms. */
  maxLoopGapMs: number;
  /** The same gap in this thread's CPU time (excludes preemption by other processes), ms. */
  maxLoopGapCpuMs: number;
  /** Median and longest single client call (batch, or execute for autocommit), ms. */
  p50BlockMs: number;
  maxBlockMs: number;
  batches: number;
}

interface RunOutcome {
  rows: number;
  enqueueMs: number;
  blocksMs: number[];
  loopGapMs: number;
  loopGapCpuMs: number;
}

/**
 * Gaps between consecutive setImmediate turns from creation until stop(), in wall time and in this thread's
 * CPU time (process.threadCpuUsage): on a shared machine the wall gap includes preemption by other
 * processes, the CPU gap is what our own code blocked. The first gap is the turn that issued the writes
 * (the caller's own cost, including the microtasks of 10k async calls), reported apart.
 */
function loopGapProbe(): { stop(): { firstMs: number; maxMs: number; maxCpuMs: number } } {
  const cpuMs = (): number => {
    const u = process.threadCpuUsage();
    return (u.user + u.system) / 1000;
  };
  let last = performance.now();
  let lastCpu = cpuMs();
  let firstMs = -1;
  let maxMs = 0;
  let maxCpuMs = 0;
  let on = true;
  const tick = (): void => {
    const now = performance.now();
    const cpu = cpuMs();
    if (firstMs < 0) firstMs = now - last;
    else {
      maxMs = Math.max(maxMs, now - last);
      maxCpuMs = Math.max(maxCpuMs, cpu - lastCpu);
    }
    last = now;
    lastCpu = cpu;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      on = false;
      const tail = performance.now() - last;
      const tailCpu = cpuMs() - lastCpu;
      if (firstMs < 0) return { firstMs: tail, maxMs: 0, maxCpuMs: 0 };
      return { firstMs, maxMs: Math.max(maxMs, tail), maxCpuMs: Math.max(maxCpuMs, tailCpu) };
    },
  };
}

const jidOf = (i: number): string => `user${i % USERS}@example.org`;

async function measure(strategy: string, dir: string, run: (db: UserDb, blocks: number[]) => Promise<RunOutcome>): Promise<Result> {
  const blocks: number[] = [];
  const db = await UserDb.open(join(dir, `${strategy.replaceAll(' ', '-')}.db`), {
    batcher: { maxStatements: capOf(strategy), onBatch: (b) => blocks.push(b.ms) },
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await run(db, blocks);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await db.close();
  const sorted = [...r.blocksMs].sort((a, b) => a - b);
  return {
    strategy,
    rows: r.rows,
    rowsPerSec: Math.round((r.rows / ms) * 1000),
    cpuUsPerRow: round((cpu.user + cpu.system) / r.rows),
    enqueueMs: round(r.enqueueMs),
    maxLoopGapMs: round(r.loopGapMs),
    maxLoopGapCpuMs: round(r.loopGapCpuMs),
    p50BlockMs: round(sorted[Math.floor(sorted.length / 2)] ?? 0),
    maxBlockMs: round(sorted.at(-1) ?? 0),
    batches: sorted.length,
  };
}

function capOf(strategy: string): number {
  const m = /cap (\d+)/.exec(strategy);
  return m?.[1] === undefined ? DEFAULT_MAX_BATCH_STATEMENTS : Number(m[1]);
}

const round = (x: number): number => Math.round(x * 100) / 100;

/**
 * One `execute` (its own transaction) per row, awaited in turn: the pre-batcher baseline. Note the loop
 * never yields to the event loop: the local client's Promises settle in microtasks, so a sequential
 * `await` loop is one long synchronous block (maxLoopGapMs shows it).
 */
async function autocommit(db: UserDb): Promise<RunOutcome> {
  const blocksMs: number[] = [];
  const probe = loopGapProbe();
  let i = 0;
  for (; i < ROWS && performance.now() < DEADLINE; i++) {
    const t = performance.now();
    await db.client.execute({ sql: PUSH_SQL, args: [jidOf(i), i, XML, 1000] });
    blocksMs.push(performance.now() - t);
  }
  const gaps = probe.stop();
  // The whole loop is one turn (the probe's first gap); wall and CPU time are about equal there.
  const gap = Math.max(gaps.firstMs, gaps.maxMs);
  return { rows: i, enqueueMs: 0, blocksMs, loopGapMs: gap, loopGapCpuMs: Number.NaN };
}

/** All ROWS pushes issued in one turn through OfflineRepo (the production path), then awaited. */
async function batched(db: UserDb, blocks: number[]): Promise<RunOutcome> {
  const repo = new OfflineRepo({ forUser: async () => db, existing: async () => [db] });
  const pushes: Promise<boolean>[] = [];
  const probe = loopGapProbe();
  for (let i = 0; i < ROWS; i++) pushes.push(repo.push(jidOf(i), XML, i, 1000));
  const stored = (await Promise.all(pushes)).filter(Boolean).length;
  const gaps = probe.stop();
  if (stored !== ROWS) throw new Error(`stored ${stored} of ${ROWS}`);
  return { rows: ROWS, enqueueMs: gaps.firstMs, blocksMs: blocks, loopGapMs: gaps.maxMs, loopGapCpuMs: gaps.maxCpuMs };
}

const dir = await mkdtemp(join(tmpdir(), 'waddle-libsql-bench-'));
const results: Result[] = [];
try {
  // Warm-up (JIT, native module load) on a throw-away file.
  await measure('warmup cap 256', dir, batched);
  for (const [name, fn] of [
    ['autocommit execute/row', autocommit],
    ['batcher cap 64', batched],
    ['batcher cap 128', batched],
    ['batcher cap 256', batched],
    ['batcher cap 1024', batched],
    ['batcher cap 10000', batched],
  ] as const) {
    if (performance.now() > DEADLINE) break;
    // Start each run from a collected heap (needs --expose-gc) so one run's garbage does not land in the next.
    (globalThis as { gc?: () => void }).gc?.();
    results.push(await measure(name, dir, fn));
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

console.log(
  JSON.stringify({ bench: 'libsql-offline-push', node: process.version, rowsPerRun: ROWS, users: USERS, xmlBytes: XML.length, results }),
);
console.table(results);
