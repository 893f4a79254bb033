// `idle`: memory and CPU of C authenticated, bound, available connections that do nothing.
// Per run (fresh server): wait --settle s and read VmRSS (baseline), log in C connections (initial
// presence sent), wait --settle s, read VmRSS, measure the server's CPU over --duration s of
// idleness, read VmRSS again. Memory per connection = (RSS after − baseline) / C.
// RSS includes whatever the V8 heaps have not collected yet; the server cannot be told to GC, so the
// settle time is what makes before/after comparable (reported as measured).
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { IdleCheck, IdleInit } from '../loadgen/idle-driver.ts';
import {
  callAll,
  COMMON_OPTIONS,
  clientParams,
  commonOptions,
  DriverThread,
  emit,
  log,
  machineInfo,
  num,
  withServers,
} from '../loadgen/phase-driver.ts';
import { clockTicksPerSecond, cpuBetween, hostBusyTicks, memory, snapshot } from '../loadgen/proc-stats.ts';
import type { ReadyInfo } from '../loadgen/protocol.ts';
import { median } from '../report.ts';
import { BENCH_DOMAIN, benchUser } from '../targets/waddle.ts';

const DRIVER = new URL('../loadgen/idle-driver.ts', import.meta.url);

export interface IdleRecord {
  scenario: 'idle';
  /** waddle, prosody or ejabberd (`--target`). */
  target: string;
  run: number;
  date: string;
  config: {
    workers: number;
    transport: string;
    mechanism: string;
    connections: number;
    settleSec: number;
    durationSec: number;
    genThreads: number;
    addresses: number;
    pinServer: string | null;
    pinGenerator: string | null;
    /** `--tls-groups`, when given. */
    tlsGroups?: string;
    /** `--tls-engine`, when given. */
    tlsEngine?: string;
    /** false with `--no-hand-off` (recorded only then). */
    handOff?: boolean;
  };
  machine: { nproc: number; cpu: string; node: string };
  connected: number;
  loginSec: number;
  baselineRssMb: number;
  rssMb: number;
  rssAfterMb: number;
  peakRssMb: number;
  kbPerConnection: number;
  idleServerCpuSec: number;
  idleServerCores: number;
  /** Cores busy outside the server and the generator during the idle window (other jobs on the machine). */
  hostOtherCores: number;
  loginServerCpuSec: number;
  disconnects: number;
  firstError: string | null;
}

/** User indexes of generator thread `t` of `threads` (round-robin, so every thread uses every address). */
export function idleUsersOf(connections: number, threads: number, t: number): number[] {
  const out: number[] = [];
  for (let u = t; u < connections; u += threads) out.push(u);
  return out;
}

/** Server memory attributable to each connection, KB (RSS in MiB). */
export function kbPerConnection(baselineMb: number, afterMb: number, connections: number): number {
  return connections > 0 ? ((afterMb - baselineMb) * 1024) / connections : Number.NaN;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function idleTable(records: readonly IdleRecord[]): string {
  const rows = [
    '| target, transport | conns | run | login s | baseline MB | RSS MB (settled) | RSS MB (after idle) | KB/conn | idle server CPU s | idle cores | disconnects |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const row = (r: IdleRecord, run: string) =>
    `| ${r.target ?? 'waddle'} ${r.config.transport}${r.config.tlsEngine === undefined ? '' : ` ${r.config.tlsEngine}`}${r.config.tlsGroups === undefined ? '' : ` (${r.config.tlsGroups})`}${r.config.handOff === false ? ', no hand-off' : ''} | ${r.connected} | ${run} | ${r.loginSec.toFixed(1)} | ${r.baselineRssMb.toFixed(1)} | ${r.rssMb.toFixed(1)} | ${r.rssAfterMb.toFixed(1)} | ${r.kbPerConnection.toFixed(1)} | ${r.idleServerCpuSec.toFixed(2)} | ${r.idleServerCores.toFixed(4)} | ${r.disconnects} |`;
  for (const r of records) rows.push(row(r, String(r.run)));
  if (records.length > 1) {
    const m = (f: (r: IdleRecord) => number) => median(records.map(f));
    const first = records[0] as IdleRecord;
    rows.push(
      row(
        {
          ...first,
          connected: m((r) => r.connected),
          loginSec: m((r) => r.loginSec),
          baselineRssMb: m((r) => r.baselineRssMb),
          rssMb: m((r) => r.rssMb),
          rssAfterMb: m((r) => r.rssAfterMb),
          kbPerConnection: m((r) => r.kbPerConnection),
          idleServerCpuSec: m((r) => r.idleServerCpuSec),
          idleServerCores: m((r) => r.idleServerCores),
          disconnects: m((r) => r.disconnects),
        },
        '**median**',
      ),
    );
  }
  return rows.join('\n');
}

export async function idleMain(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      ...COMMON_OPTIONS,
      connections: { type: 'string', default: '1000' },
      settle: { type: 'string', default: '5' },
      duration: { type: 'string', default: '10' },
      addresses: { type: 'string', default: '4' },
    },
  });
  const c = commonOptions(v);
  const connections = num('connections', v.connections, 1, 200_000);
  const settleMs = num('settle', v.settle, 0, 600) * 1000;
  const durationMs = num('duration', v.duration, 1, 3600) * 1000;
  const addresses = num('addresses', v.addresses, 1, 250);
  const genThreads = v['gen-threads']
    ? num('gen-threads', v['gen-threads'], 1, 64)
    : Math.max(1, Math.min(4, Math.ceil(connections / 5000)));
  const client = clientParams(c, addresses);
  const records: IdleRecord[] = [];
  const jids = Array.from({ length: connections }, (_, i) => `${benchUser(i)}@${BENCH_DOMAIN}`);
  await withServers(
    c,
    jids,
    async () => {},
    async (server, target, run) => {
      const ticks = clockTicksPerSecond();
      await sleep(settleMs);
      const baseline = memory(server.pid);
      const threads = Array.from({ length: genThreads }, (_, t) => {
        const init: IdleInit & { driver: string } = {
          driver: 'idle',
          target,
          client,
          users: idleUsersOf(connections, genThreads, t),
          connectConcurrency: 32,
        };
        return new DriverThread(DRIVER, init);
      });
      try {
        const l0 = snapshot(server.pid, performance.now());
        const readies = await callAll<ReadyInfo>(threads, 'setup', null, 600_000);
        const l1 = snapshot(server.pid, performance.now());
        const connected = readies.reduce((n, r) => n + r.connections, 0);
        const failed = readies.reduce((n, r) => n + r.failed, 0);
        if (failed > 0)
          throw new Error(`${failed} connections failed to log in; first error: ${readies.find((r) => r.firstError)?.firstError}`);
        await sleep(settleMs);
        const settled = memory(server.pid);
        const h0 = hostBusyTicks();
        const g0 = process.cpuUsage();
        const s0 = snapshot(server.pid, performance.now());
        await sleep(durationMs);
        const s1 = snapshot(server.pid, performance.now());
        const g1 = process.cpuUsage(g0);
        const h1 = hostBusyTicks();
        const after = memory(server.pid);
        const checks = await callAll<IdleCheck>(threads, 'check', null, 30_000);
        const idle = cpuBetween(s0, s1, ticks);
        const record: IdleRecord = {
          scenario: 'idle',
          target: c.target,
          run,
          date: new Date().toISOString(),
          config: {
            workers: c.workers,
            transport: c.transport,
            mechanism: c.mechanism,
            connections,
            settleSec: settleMs / 1000,
            durationSec: durationMs / 1000,
            genThreads,
            addresses,
            pinServer: c.pinServer,
            pinGenerator: c.pinGenerator,
            ...(c.tlsGroups === undefined ? {} : { tlsGroups: c.tlsGroups }),
            ...(c.tlsEngine === undefined ? {} : { tlsEngine: c.tlsEngine }),
            ...(c.noHandOff ? { handOff: false } : {}),
          },
          machine: machineInfo(),
          connected,
          loginSec: (l1.at - l0.at) / 1000,
          baselineRssMb: baseline.rssMb,
          rssMb: settled.rssMb,
          rssAfterMb: after.rssMb,
          peakRssMb: after.peakRssMb,
          kbPerConnection: kbPerConnection(baseline.rssMb, after.rssMb, connected),
          idleServerCpuSec: idle.cpuSec,
          idleServerCores: idle.cores,
          hostOtherCores: Math.max(0, ((h1 - h0) / ticks - idle.cpuSec - (g1.user + g1.system) / 1e6) / idle.wallSec),
          loginServerCpuSec: cpuBetween(l0, l1, ticks).cpuSec,
          disconnects: checks.reduce((n, k) => n + k.disconnects, 0),
          firstError: checks.find((k) => k.firstError)?.firstError ?? null,
        };
        records.push(record);
        emit(c, record);
        log(
          `run ${run}: ${connected} conns, RSS ${baseline.rssMb.toFixed(1)} → ${after.rssMb.toFixed(1)} MB, ${record.kbPerConnection.toFixed(1)} KB/conn, idle CPU ${idle.cpuSec.toFixed(2)} s`,
        );
      } finally {
        await Promise.all(threads.map((t) => t.close()));
      }
    },
  );
  if (!c.json) console.log(`\n${idleTable(records)}`);
  return 0;
}
