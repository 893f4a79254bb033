// `presence`: presence broadcast among U users whose rosters hold C contacts each (subscription
// 'both', written straight into storage before the server starts, like the accounts). Per run (fresh
// server): all log in without presence, come online (initial presence), each sends N presence
// updates at --rate updates/s in total, then all go offline. Measured over the update phase:
// broadcast presence stanzas delivered to contacts per second, server CPU µs per delivered stanza,
// and the latency of an update reaching a contact (stamp in <status/>). Bounded by --timeout per phase.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Placement } from '../../src/shard/placement.ts';
import { openUserStores } from '../../src/storage/user-stores.ts';
import { LatencyHistogram } from '../loadgen/histogram.ts';
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
import type { PhaseResult, PresenceInit } from '../loadgen/presence-driver.ts';
import { clockTicksPerSecond, cpuBetween, hostBusyTicks, memory, snapshot } from '../loadgen/proc-stats.ts';
import type { ReadyInfo } from '../loadgen/protocol.ts';
import { median } from '../report.ts';
import { BENCH_DOMAIN, benchUser } from '../targets/waddle.ts';

const DRIVER = new URL('../loadgen/presence-driver.ts', import.meta.url);

/**
 * Contacts of user i: its C nearest neighbours on a ring of U users (C/2 on each side), so every
 * relation is mutual, as subscription 'both' must be (RFC 6121 §3). C must be even and < U.
 */
export function contactsOf(i: number, users: number, contacts: number): number[] {
  const half = contacts / 2;
  const out: number[] = [];
  for (let d = 1; d <= half; d++) out.push((i + d) % users, (i - d + users) % users);
  return out;
}

async function provisionRosters(dataDir: string, workers: number, users: number, contacts: number): Promise<void> {
  const stores = openUserStores({ dataDir, placement: new Placement(workers), shard: 'all' });
  try {
    const jid = (u: number) => `${benchUser(u)}@${BENCH_DOMAIN}`;
    for (let i = 0; i < users; i += 200) {
      const puts: Promise<number>[] = [];
      for (let u = i; u < Math.min(users, i + 200); u++)
        for (const c of contactsOf(u, users, contacts))
          puts.push(
            stores.roster.put(jid(u), {
              contact: jid(c),
              name: null,
              subscription: 'both',
              askOut: false,
              pendingIn: false,
              approved: false,
              groups: [],
            }),
          );
      await Promise.all(puts);
    }
    await stores.flush();
  } finally {
    await stores.close();
  }
}

export interface PresenceRecord {
  scenario: 'presence';
  target: 'waddle';
  run: number;
  date: string;
  config: {
    workers: number;
    transport: string;
    mechanism: string;
    users: number;
    contacts: number;
    updates: number;
    rate: number;
    genThreads: number;
    pinServer: string | null;
    pinGenerator: string | null;
  };
  machine: { nproc: number; cpu: string; node: string };
  onlineSec: number;
  onlineReceived: number;
  onlineExpected: number;
  updatesSent: number;
  delivered: number;
  expected: number;
  deliveredPerSec: number;
  updateSec: number;
  serverCpuSec: number;
  serverCpuUsPerDelivery: number;
  /** The generator's own CPU per wall second in the update phase (near 1 = the generator was the limit). */
  generatorCores: number;
  /** Cores busy outside the server and the generator in the update phase (other jobs: see run.ts). */
  hostOtherCores: number;
  busiestThread: { name: string; share: number };
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  offlineSec: number;
  offlineReceived: number;
  offlineExpected: number;
  rssMb: number;
  disconnects: number;
  firstError: string | null;
}

const sum = (rs: readonly PhaseResult[], f: (r: PhaseResult) => number) => rs.reduce((n, r) => n + f(r), 0);

export function presenceTable(records: readonly PresenceRecord[]): string {
  const rows = [
    '| transport | users×contacts | updates/user @ rate | run | delivered/expected | delivered/s | µs CPU/delivery | p50 ms | p99 ms | max ms | online s | offline s | busiest thread | gen cores |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const row = (r: PresenceRecord, run: string) =>
    `| ${r.config.transport} | ${r.config.users}×${r.config.contacts} | ${r.config.updates} @ ${r.config.rate}/s | ${run} | ${r.delivered}/${r.expected} | ${Math.round(r.deliveredPerSec)} | ${r.serverCpuUsPerDelivery.toFixed(1)} | ${r.latencyMs.p50.toFixed(2)} | ${r.latencyMs.p99.toFixed(2)} | ${r.latencyMs.max.toFixed(1)} | ${r.onlineSec.toFixed(2)} | ${r.offlineSec.toFixed(2)} | ${r.busiestThread.name} ${(r.busiestThread.share * 100).toFixed(0)}% | ${r.generatorCores.toFixed(2)} |`;
  for (const r of records) rows.push(row(r, String(r.run)));
  if (records.length > 1) {
    const m = (f: (r: PresenceRecord) => number) => median(records.map(f));
    const first = records[0] as PresenceRecord;
    const lat = {
      p50: m((r) => r.latencyMs.p50),
      p90: m((r) => r.latencyMs.p90),
      p99: m((r) => r.latencyMs.p99),
      max: m((r) => r.latencyMs.max),
    };
    rows.push(
      row(
        {
          ...first,
          delivered: m((r) => r.delivered),
          deliveredPerSec: m((r) => r.deliveredPerSec),
          serverCpuUsPerDelivery: m((r) => r.serverCpuUsPerDelivery),
          latencyMs: lat,
          generatorCores: m((r) => r.generatorCores),
          onlineSec: m((r) => r.onlineSec),
          offlineSec: m((r) => r.offlineSec),
        },
        '**median**',
      ),
    );
  }
  return rows.join('\n');
}

export async function presenceMain(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      ...COMMON_OPTIONS,
      users: { type: 'string', default: '1000' },
      contacts: { type: 'string', default: '20' },
      updates: { type: 'string', default: '10' },
      rate: { type: 'string', default: '1000' },
      timeout: { type: 'string', default: '60' },
    },
  });
  const c = commonOptions(v);
  // Rosters are written straight into waddle's files; the peers would need their own roster provisioning.
  if (c.target !== 'waddle') throw new Error('presence: --target waddle only (rosters are provisioned in waddle files)');
  const users = num('users', v.users, 3, 100_000);
  const contacts = num('contacts', v.contacts, 2, users - 1);
  if (contacts % 2 !== 0) throw new Error('--contacts must be even (a symmetric ring of contacts)');
  const perUser = num('updates', v.updates, 1, 10_000);
  const rate = num('rate', v.rate, 1, 1_000_000);
  const timeoutMs = num('timeout', v.timeout, 1, 3600) * 1000;
  const genThreads = v['gen-threads']
    ? num('gen-threads', v['gen-threads'], 1, 64)
    : Math.max(1, Math.min(c.genCpus, Math.ceil(users / 2000)));
  const client = clientParams(c, 4);
  const records: PresenceRecord[] = [];
  const jids = Array.from({ length: users }, (_, i) => `${benchUser(i)}@${BENCH_DOMAIN}`);
  await withServers(
    c,
    jids,
    (dir) => provisionRosters(dir, c.workers, users, contacts),
    async (server, target, run) => {
      const threads = Array.from({ length: genThreads }, (_, t) => {
        const mine = jids.map((_, i) => i).filter((i) => i % genThreads === t);
        const init: PresenceInit & { driver: string } = {
          driver: 'presence',
          target,
          client,
          users: mine,
          contacts,
          connectConcurrency: 32,
        };
        return new DriverThread(DRIVER, init);
      });
      try {
        const readies = await callAll<ReadyInfo>(threads, 'setup', null, 600_000);
        const failed = readies.reduce((n, r) => n + r.failed, 0);
        if (failed > 0)
          throw new Error(`${failed} connections failed to log in; first error: ${readies.find((r) => r.firstError)?.firstError}`);
        const o0 = performance.now();
        const online = await callAll<PhaseResult>(threads, 'online', timeoutMs, timeoutMs + 30_000);
        const onlineSec = (performance.now() - o0) / 1000;
        const ticks = clockTicksPerSecond();
        const h0 = hostBusyTicks();
        const g0 = process.cpuUsage();
        const s0 = snapshot(server.pid, performance.now());
        const upd = await callAll<PhaseResult>(
          threads,
          'updates',
          { perUser, ratePerSec: rate / genThreads, timeoutMs },
          timeoutMs + 30_000,
        );
        const s1 = snapshot(server.pid, performance.now());
        const g1 = process.cpuUsage(g0);
        const h1 = hostBusyTicks();
        const rss = memory(server.pid).rssMb;
        const f0 = performance.now();
        const offline = await callAll<PhaseResult>(threads, 'offline', timeoutMs, timeoutMs + 30_000);
        const offlineSec = (performance.now() - f0) / 1000;
        const cpu = cpuBetween(s0, s1, ticks);
        const hist = new LatencyHistogram();
        for (const r of upd) if (r.latency) hist.merge(r.latency);
        const delivered = sum(upd, (r) => r.received);
        const record: PresenceRecord = {
          scenario: 'presence',
          target: 'waddle',
          run,
          date: new Date().toISOString(),
          config: {
            workers: c.workers,
            transport: c.transport,
            mechanism: c.mechanism,
            users,
            contacts,
            updates: perUser,
            rate,
            genThreads,
            pinServer: c.pinServer,
            pinGenerator: c.pinGenerator,
          },
          machine: machineInfo(),
          onlineSec,
          onlineReceived: sum(online, (r) => r.received),
          onlineExpected: sum(online, (r) => r.expected),
          updatesSent: sum(upd, (r) => r.sent),
          delivered,
          expected: sum(upd, (r) => r.expected),
          deliveredPerSec: delivered / cpu.wallSec,
          updateSec: cpu.wallSec,
          serverCpuSec: cpu.cpuSec,
          generatorCores: (g1.user + g1.system) / 1e6 / cpu.wallSec,
          hostOtherCores: Math.max(0, ((h1 - h0) / ticks - cpu.cpuSec - (g1.user + g1.system) / 1e6) / cpu.wallSec),
          serverCpuUsPerDelivery: delivered > 0 ? (cpu.cpuSec / delivered) * 1e6 : Number.NaN,
          busiestThread: { name: cpu.threads[0]?.name ?? '-', share: cpu.threads[0]?.share ?? 0 },
          latencyMs: {
            p50: hist.quantile(0.5) / 1000,
            p90: hist.quantile(0.9) / 1000,
            p99: hist.quantile(0.99) / 1000,
            max: hist.max / 1000,
          },
          offlineSec,
          offlineReceived: sum(offline, (r) => r.received),
          offlineExpected: sum(offline, (r) => r.expected),
          rssMb: rss,
          disconnects: sum(offline, (r) => r.disconnects),
          firstError: offline.find((r) => r.firstError)?.firstError ?? null,
        };
        records.push(record);
        emit(c, record);
        log(
          `run ${run}: ${delivered}/${record.expected} delivered, ${Math.round(record.deliveredPerSec)}/s, ${record.serverCpuUsPerDelivery.toFixed(1)} µs CPU each, p50 ${record.latencyMs.p50.toFixed(2)} ms p99 ${record.latencyMs.p99.toFixed(2)} ms`,
        );
      } finally {
        await Promise.all(threads.map((t) => t.close()));
      }
    },
  );
  if (!c.json) console.log(`\n${presenceTable(records)}`);
  return 0;
}
