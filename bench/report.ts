// Benchmark records (one JSON line per run), medians over repeated runs, and Markdown tables:
// per-run rows, a summary per configuration, per-thread CPU, and `--compare a.jsonl b.jsonl`.
import { readFileSync } from 'node:fs';

export interface ThreadShare {
  name: string;
  cpuSec: number;
  share: number;
}

export interface RunConfig {
  workers: number;
  transport: string;
  mechanism: string;
  pairs?: number;
  window?: number;
  rate?: number;
  concurrency?: number;
  bodyBytes?: number;
  /** muc: rooms × occupants, senders per room, room archives on (waddle). */
  rooms?: number;
  occupants?: number;
  senders?: number;
  archive?: boolean;
  tlsGroups?: string;
  tlsEngine?: string;
  /** waddle: false when run with `--no-move` (bound connections stayed on the shard that accepted them). */
  moveToHome?: boolean;
  /** waddle: false when run with `--no-hand-off` (lean TLS kept OpenSSL's state for whole connections). */
  handOff?: boolean;
  /** muc: how new rooms were unlocked ('no-logging': waddle rooms not archived; see MucParams). */
  roomConfig?: string;
  warmupSec: number;
  durationSec: number;
  genThreads: number;
  pinServer: string | null;
  pinGenerator: string | null;
  cpuProf: boolean;
}

export interface RunRecord {
  scenario: 'direct' | 'login' | 'muc';
  target: string;
  run: number;
  date: string;
  config: RunConfig;
  machine: { nproc: number; cpu: string; node: string };
  connections: number;
  /** muc: one delivered copy of a groupchat message (a message to M occupants counts M). */
  unit: 'msg' | 'login' | 'stanza';
  ops: number;
  opsPerSec: number;
  attempts: number;
  errors: number;
  lost: number;
  skipped: number;
  disconnects: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Open loop: how late the generator wrote messages against their schedule (null in closed loop). */
  sendLagMs: { p99: number; max: number } | null;
  serverCpuSec: number;
  /** CPU seconds per wall second: cores kept busy. */
  serverCores: number;
  /** Server CPU seconds per 1,000 ops (delivered messages or logins). */
  serverCpuSecPer1k: number;
  serverCpuUsPerOp: number;
  busiestThread: ThreadShare;
  threads: ThreadShare[];
  peakRssMb: number;
  rssMb: number;
  generatorCores: number;
  /** Cores busy outside the server and generator (other jobs on a shared machine, kernel network work). */
  hostOtherCores: number;
  loadAvg1: number;
  crossShardPairs: number | null;
  firstError: string | null;
}

const r1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const r2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const r3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '-');
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
const int = (x: number) => Math.round(x).toLocaleString('en-US');

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** A short label of what was measured, identical for repeated runs of one configuration. */
export function configLabel(r: RunRecord): string {
  const c = r.config;
  const pace = c.rate ? `${c.rate} msg/s` : `window ${c.window}`;
  const load =
    r.scenario === 'direct'
      ? `${c.pairs} pairs, ${pace}`
      : r.scenario === 'muc'
        ? `${c.rooms}×${c.occupants} occupants, ${c.senders} senders/room, ${pace}${c.archive ? ', archive' : ''}`
        : `K=${c.concurrency}`;
  const groups = `${c.tlsGroups === undefined ? '' : `, groups ${c.tlsGroups}`}${c.tlsEngine === undefined ? '' : `, ${c.tlsEngine} TLS`}${c.moveToHome === false ? ', no moves' : ''}${c.handOff === false ? ', no hand-off' : ''}`;
  return `${r.target} ${r.scenario} ${c.transport} ${c.mechanism}${groups}, ${c.workers}w, ${load}`;
}

/** The median of every numeric result over runs of one configuration (the busiest thread: by median share). */
export function summarize(runs: readonly RunRecord[]): RunRecord {
  const first = runs[0];
  if (!first) throw new Error('no runs to summarize');
  const m = (f: (r: RunRecord) => number) => median(runs.map(f));
  const busiest = [...runs].sort((a, b) => a.busiestThread.share - b.busiestThread.share)[runs.length >> 1] ?? first;
  return {
    ...first,
    run: 0,
    connections: m((r) => r.connections),
    ops: m((r) => r.ops),
    opsPerSec: m((r) => r.opsPerSec),
    attempts: m((r) => r.attempts),
    errors: m((r) => r.errors),
    lost: m((r) => r.lost),
    skipped: m((r) => r.skipped),
    disconnects: m((r) => r.disconnects),
    latencyMs: {
      p50: m((r) => r.latencyMs.p50),
      p90: m((r) => r.latencyMs.p90),
      p99: m((r) => r.latencyMs.p99),
      max: m((r) => r.latencyMs.max),
      mean: m((r) => r.latencyMs.mean),
    },
    serverCpuSec: m((r) => r.serverCpuSec),
    serverCores: m((r) => r.serverCores),
    serverCpuSecPer1k: m((r) => r.serverCpuSecPer1k),
    serverCpuUsPerOp: m((r) => r.serverCpuUsPerOp),
    busiestThread: busiest.busiestThread,
    threads: busiest.threads,
    peakRssMb: m((r) => r.peakRssMb),
    rssMb: m((r) => r.rssMb),
    generatorCores: m((r) => r.generatorCores),
    hostOtherCores: m((r) => r.hostOtherCores),
    loadAvg1: m((r) => r.loadAvg1),
  };
}

/** Runs grouped by configuration, in first-seen order. */
export function groupRuns(runs: readonly RunRecord[]): RunRecord[][] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const key = JSON.stringify({ s: r.scenario, t: r.target, c: { ...r.config } });
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()];
}

const HEADER =
  '| configuration | run | conns | ops/s | p50 ms | p99 ms | max ms | errors | lost | server cores | server CPU s / 1k ops | µs CPU / op | busiest thread (share) | peak RSS MB | generator cores | other cores |';
const RULE = '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';

function row(r: RunRecord, run: string): string {
  return `| ${configLabel(r)} | ${run} | ${int(r.connections)} | ${int(r.opsPerSec)} | ${r2(r.latencyMs.p50)} | ${r2(r.latencyMs.p99)} | ${r1(r.latencyMs.max)} | ${int(r.errors)} | ${int(r.lost)} | ${r2(r.serverCores)} | ${r3(r.serverCpuSecPer1k)} | ${r1(r.serverCpuUsPerOp)} | ${r.busiestThread.name} (${pct(r.busiestThread.share)}) | ${int(r.peakRssMb)} | ${r2(r.generatorCores)} | ${r2(r.hostOtherCores)} |`;
}

/** Every run, then the median row of each configuration. */
export function runsTable(runs: readonly RunRecord[]): string {
  const lines = [HEADER, RULE];
  for (const group of groupRuns(runs)) {
    for (const r of group) lines.push(row(r, String(r.run)));
    if (group.length > 1) lines.push(row(summarize(group), '**median**'));
  }
  return lines.join('\n');
}

/** Per-thread CPU of the median run of each configuration (threads under 1% of the process left out). */
export function threadsTable(runs: readonly RunRecord[]): string {
  const lines = ['| configuration | thread | CPU s | share of server CPU |', '|---|---|---|---|'];
  for (const group of groupRuns(runs)) {
    const s = summarize(group);
    for (const t of s.threads.filter((x) => x.share >= 0.01))
      lines.push(`| ${configLabel(s)} | ${t.name} | ${r2(t.cpuSec)} | ${pct(t.share)} |`);
  }
  return lines.join('\n');
}

/**
 * Scaling by worker count when the counts ran in turn within each repetition (`--workers 1,2,4`): each
 * count's CPU per op against the first count's in the same repetition. On a shared machine the ratio of
 * runs made back to back is steadier than either figure alone.
 */
export function scalingTable(runs: readonly RunRecord[]): string {
  const counts = [...new Set(runs.map((r) => r.config.workers))];
  const base = counts[0];
  const at = (run: number, workers: number) => runs.find((r) => r.run === run && r.config.workers === workers);
  const lines = [
    `| workers | µs CPU / op, run by run | median | ratio to ${base} worker(s), run by run | median ratio | busiest thread (median share) |`,
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const w of counts) {
    const mine = runs.filter((r) => r.config.workers === w);
    const ratios = mine.flatMap((r) => {
      const b = at(r.run, base as number);
      return b ? [r.serverCpuUsPerOp / b.serverCpuUsPerOp] : [];
    });
    const us = mine.map((r) => r.serverCpuUsPerOp);
    lines.push(
      `| ${w} | ${us.map((x) => x.toFixed(1)).join(', ')} | ${median(us).toFixed(1)} | ${ratios.map((x) => x.toFixed(2)).join(', ')} | ` +
        `${ratios.length ? median(ratios).toFixed(2) : '-'} | ${(median(mine.map((r) => r.busiestThread.share)) * 100).toFixed(0)}% |`,
    );
  }
  return lines.join('\n');
}

export function readRecords(file: string): RunRecord[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as RunRecord);
}

/** Medians of two result files side by side, matched by configuration label. */
export function compareTable(a: readonly RunRecord[], b: readonly RunRecord[], names: [string, string]): string {
  const sa = new Map(groupRuns(a).map((g) => [configLabel(summarize(g)), summarize(g)]));
  const sb = new Map(groupRuns(b).map((g) => [configLabel(summarize(g)), summarize(g)]));
  const [na, nb] = names;
  const lines = [
    `| configuration | ops/s ${na} | ops/s ${nb} | p99 ms ${na} | p99 ms ${nb} | µs CPU/op ${na} | µs CPU/op ${nb} | busiest ${na} | busiest ${nb} |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const label of new Set([...sa.keys(), ...sb.keys()])) {
    const x = sa.get(label);
    const y = sb.get(label);
    const cell = (r: RunRecord | undefined, f: (r: RunRecord) => string) => (r ? f(r) : '-');
    lines.push(
      `| ${label} | ${cell(x, (r) => int(r.opsPerSec))} | ${cell(y, (r) => int(r.opsPerSec))} | ${cell(x, (r) => r2(r.latencyMs.p99))} | ${cell(y, (r) => r2(r.latencyMs.p99))} | ${cell(x, (r) => r1(r.serverCpuUsPerOp))} | ${cell(y, (r) => r1(r.serverCpuUsPerOp))} | ${cell(x, (r) => pct(r.busiestThread.share))} | ${cell(y, (r) => pct(r.busiestThread.share))} |`,
    );
  }
  return lines.join('\n');
}
