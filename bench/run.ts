// Benchmark entry point: `npm run bench -- <direct|login> [options]`, `--compare a.jsonl b.jsonl`,
// or `profile <dir>` (top self-time functions of --cpu-prof output). See bench/README.md.
// Each run starts a fresh server (FACTS.md: costs drift with uptime), measures one bounded window,
// and stops it; a run prints one JSON line, and the end a Markdown table with medians.
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runGenerators } from './loadgen/pool.ts';
import { waitForQuietHost } from './loadgen/proc-stats.ts';
import type { ClientParams, ScenarioParams } from './loadgen/protocol.ts';
import type { Mechanism, TransportMode } from './loadgen/xmpp-login.ts';
import { printProfileTop } from './profile-top.ts';
import { compareTable, readRecords, type RunConfig, type RunRecord, runsTable, scalingTable, threadsTable } from './report.ts';
import { crossShardPairs, directShares, directUsers, pairsOf } from './scenarios/direct.ts';
import { loginShares } from './scenarios/login.ts';
import { mucShares, mucUsers, validateMuc } from './scenarios/muc.ts';
import { targetNamed } from './targets/registry.ts';
import { BENCH_DOMAIN, benchUser } from './targets/waddle.ts';
import { idleMain } from './scenarios/idle.ts';
import { presenceMain } from './scenarios/presence.ts';

const USAGE = `usage: npm run bench -- <direct|login|muc|idle|presence> [options]
  --target T               server under test: waddle (default), prosody or ejabberd (README "Peer servers")
  --workers N[,N…]         server shard threads (default 2); a list (e.g. 1,2,4) runs each count in turn within
                           every repetition and prints each count's CPU per op relative to the first, pair by pair
  --runs N                 repetitions, each on a freshly started server (default 3)
  --tls | --plain | --direct-tls   STARTTLS (default), plain TCP (require_tls = false), or XEP-0368 direct TLS
  --mech M                 PLAIN, SCRAM-SHA-1 or SCRAM-SHA-256 (default PLAIN over TLS, SCRAM-SHA-256 over plain)
  direct: --pairs P (100) --window W (1) --rate R msgs/s in total (0 = closed loop) --body BYTES (100)
  login:  --concurrency K (8) --users U (200)
  muc:    --rooms R (10) --occupants M (50) --senders S per room (5) --window W (1) --rate R msgs/s in total
          (0 = closed loop) --body BYTES (100) --archive (waddle: keep room archives on; off by default)
  --warmup S (3) --duration S (15) --grace S (2)
  --gen-threads N          load-generator threads (default: 1 per 2000 connections, at most the generator's CPUs)
  --pin-server CPUS --pin-gen CPUS   taskset CPU lists (default 0 and 1 when taskset exists and there are >= 2 CPUs)
  --no-pin                 no pinning
  --cpu-prof DIR           run the server with --cpu-prof (profiles in DIR/run-N)
  --tls-groups G           waddle: [tls] groups, e.g. X25519:P-256 (default: OpenSSL's, X25519MLKEM768 first)
  --tls-engine E           waddle: [tls] engine, lean or node (default: the server's, lean when built)
  --no-move                waddle: [c2s] move_to_home = false (bound connections stay on the shard that accepted them)
  --no-hand-off            waddle: [tls] hand_off = false (lean TLS keeps OpenSSL's state for the whole connection)
  --out FILE               also append the JSON lines to FILE
  --json                   print only the JSON lines (no Markdown)
  --quiet-wait S           before each run, wait up to S s for the machine to be idle (default 60; 0 = don't)
  --quiet-cores C          "idle" means fewer than C cores busy over 2 s (default 0.3)
  --data-dir DIR           keep accounts and certificate here (default: a temporary directory, removed)
  --log-level L            server log level (default warn)
  npm run bench -- report FILE.jsonl...         Markdown tables (runs, medians, threads) of result files
  npm run bench -- --compare A.jsonl B.jsonl    medians of two result files side by side
  npm run bench -- profile DIR [--top N]        top self-time functions of the .cpuprofile files in DIR`;

const PASSWORD = 'bench-password-1';

function opts(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      target: { type: 'string', default: 'waddle' },
      workers: { type: 'string', default: '2' },
      runs: { type: 'string', default: '3' },
      tls: { type: 'boolean', default: false },
      plain: { type: 'boolean', default: false },
      'direct-tls': { type: 'boolean', default: false },
      mech: { type: 'string' },
      pairs: { type: 'string', default: '100' },
      window: { type: 'string', default: '1' },
      rate: { type: 'string', default: '0' },
      body: { type: 'string', default: '100' },
      concurrency: { type: 'string', short: 'k', default: '8' },
      users: { type: 'string', default: '200' },
      rooms: { type: 'string', default: '10' },
      occupants: { type: 'string', default: '50' },
      senders: { type: 'string', default: '5' },
      archive: { type: 'boolean', default: false },
      'tls-groups': { type: 'string' },
      'tls-engine': { type: 'string' },
      'no-move': { type: 'boolean' },
      'no-hand-off': { type: 'boolean' },
      warmup: { type: 'string', default: '3' },
      duration: { type: 'string', default: '15' },
      grace: { type: 'string', default: '2' },
      'gen-threads': { type: 'string' },
      'pin-server': { type: 'string' },
      'pin-gen': { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string', default: 'warn' },
      'quiet-wait': { type: 'string', default: '60' },
      'quiet-cores': { type: 'string', default: '0.3' },
      compare: { type: 'boolean', default: false },
      top: { type: 'string', default: '25' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

function num(name: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in [${min}, ${max}], got '${v}'`);
  return n;
}

const hasTaskset = () => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Number of CPUs in a taskset list such as "1", "0-3" or "0,2,4-5". */
function cpuCount(list: string): number {
  return list.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : (b as number) - (a as number) + 1);
  }, 0);
}

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function main(argv: string[]): Promise<number> {
  // idle and presence have their own phases and options (bench/loadgen/phase-driver.ts).
  if (argv[0] === 'idle') return idleMain(argv.slice(1));
  if (argv[0] === 'presence') return presenceMain(argv.slice(1));
  const { values: v, positionals } = opts(argv);
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  if (v.compare) {
    const [a, b] = positionals;
    if (!a || !b) throw new Error('--compare needs two result files');
    console.log(compareTable(readRecords(a), readRecords(b), [nameOf(a), nameOf(b)]));
    return 0;
  }
  const scenario = positionals[0];
  if (scenario === 'report') {
    const records = positionals.slice(1).flatMap((f) => readRecords(f));
    console.log(`${runsTable(records)}\n\n${threadsTable(records)}`);
    // Files from `--workers 1,2,4`: one record per (run, worker count), several counts.
    const keys = new Set(records.map((r) => `${r.run}/${r.config.workers}`));
    if (new Set(records.map((r) => r.config.workers)).size > 1 && keys.size === records.length) console.log(`\n${scalingTable(records)}`);
    return 0;
  }
  if (scenario === 'profile') {
    printProfileTop(positionals[1] ?? '.', num('top', v.top, 1));
    return 0;
  }
  if (scenario !== 'direct' && scenario !== 'login' && scenario !== 'muc') {
    console.error(USAGE);
    return 2;
  }
  const target = targetNamed(v.target);

  const machine = { nproc: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version };
  const transport: TransportMode = v.plain ? 'plain' : v['direct-tls'] ? 'direct-tls' : 'starttls';
  const mechanism = (v.mech ?? (transport === 'plain' ? target.plainMechanism : 'PLAIN')) as Mechanism;
  if (!['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256'].includes(mechanism)) throw new Error(`unknown --mech '${mechanism}'`);
  if (mechanism === 'PLAIN' && transport === 'plain')
    throw new Error('the server offers PLAIN only over TLS (RFC 6120 §13.8); use a SCRAM --mech');
  const workerCounts = String(v.workers)
    .split(',')
    .map((w) => num('workers', w, 1, 256));
  const workers = workerCounts[0] as number;
  const runs = num('runs', v.runs, 1, 100);
  const pin = !v['no-pin'] && hasTaskset() && machine.nproc >= 2;
  const pinServer = pin ? (v['pin-server'] ?? '0') : null;
  const pinGenerator = pin ? (v['pin-gen'] ?? '1') : null;
  if (pinGenerator !== null) execFileSync('taskset', ['-a', '-p', '-c', pinGenerator, String(process.pid)], { stdio: 'ignore' });
  const genCpus = pinGenerator === null ? machine.nproc : cpuCount(pinGenerator);

  const direct = {
    pairs: num('pairs', v.pairs, 1),
    window: num('window', v.window, 1),
    rate: num('rate', v.rate, 0),
    bodyBytes: num('body', v.body, 1, 100_000),
  };
  const login = { concurrency: num('concurrency', v.concurrency, 1), users: num('users', v.users, 1) };
  const muc = {
    rooms: num('rooms', v.rooms, 1, 100_000),
    occupants: num('occupants', v.occupants, 1, 100_000),
    senders: num('senders', v.senders, 1, 100_000),
    window: direct.window,
    rate: direct.rate,
    bodyBytes: direct.bodyBytes,
  };
  if (scenario === 'muc') validateMuc(muc);
  // Room archives are a waddle switch; the peers' configs keep theirs off (no muc_mam, no mod_mam).
  if (v.archive && target.name !== 'waddle') throw new Error('--archive applies to --target waddle only');
  if (v['tls-groups'] !== undefined && target.name !== 'waddle') throw new Error('--tls-groups applies to --target waddle only');
  if (v['tls-engine'] !== undefined && target.name !== 'waddle') throw new Error('--tls-engine applies to --target waddle only');
  if (v['no-move'] && target.name !== 'waddle') throw new Error('--no-move applies to --target waddle only');
  if (v['no-hand-off'] && target.name !== 'waddle') throw new Error('--no-hand-off applies to --target waddle only');
  // waddle's rooms archive by default (room config `logging`), even with [archive] enabled = false: unless
  // --archive, their creators turn logging off, as the peers' rooms (no muc_mam / mod_mam) archive nothing.
  const roomConfig = target.name === 'waddle' && !v.archive ? 'no-logging' : 'instant';
  const connections = scenario === 'direct' ? direct.pairs * 2 : scenario === 'muc' ? mucUsers(muc) : login.concurrency;
  const genThreads = v['gen-threads']
    ? num('gen-threads', v['gen-threads'], 1, 64)
    : scenario === 'muc'
      ? // Each room's occupants stay in one thread: several threads when the generator has several CPUs.
        Math.max(1, Math.min(genCpus, muc.rooms))
      : Math.max(1, Math.min(genCpus, Math.ceil(connections / 2000)));
  // One loopback source address per ~25k connections (ephemeral ports); logins churn through ports
  // (TIME_WAIT), so they always spread over several.
  const addrCount = scenario === 'login' ? 8 : Math.ceil(connections / 25_000);
  const client: ClientParams = {
    transport,
    mechanism,
    password: PASSWORD,
    localAddresses: Array.from({ length: addrCount }, (_, i) => `127.0.0.${i + 1}`),
    timeoutMs: 20_000,
  };
  const times = {
    warmupMs: num('warmup', v.warmup, 0) * 1000,
    durationMs: num('duration', v.duration, 1, 3600) * 1000,
    graceMs: num('grace', v.grace, 0) * 1000,
    setupTimeoutMs: 120_000,
  };
  const config: RunConfig = {
    workers,
    transport,
    mechanism,
    ...(scenario === 'direct' ? direct : scenario === 'muc' ? { ...muc, roomConfig } : { concurrency: login.concurrency }),
    // Recorded for muc always, elsewhere only when on (older records of other scenarios have no such field).
    ...(scenario === 'muc' || v.archive ? { archive: v.archive } : {}),
    ...(v['tls-groups'] === undefined ? {} : { tlsGroups: v['tls-groups'] }),
    ...(v['tls-engine'] === undefined ? {} : { tlsEngine: v['tls-engine'] }),
    // Recorded only when off (records before session 5 had no moves at all).
    ...(v['no-move'] ? { moveToHome: false } : {}),
    ...(v['no-hand-off'] ? { handOff: false } : {}),
    warmupSec: times.warmupMs / 1000,
    durationSec: times.durationMs / 1000,
    genThreads,
    pinServer,
    pinGenerator,
    cpuProf: v['cpu-prof'] !== undefined,
  };

  const dataDir = v['data-dir'] ? resolve(v['data-dir']) : await mkdtemp(join(os.tmpdir(), 'waddle-bench-'));
  await mkdir(dataDir, { recursive: true });
  const userCount = scenario === 'direct' ? directUsers(direct) : scenario === 'muc' ? mucUsers(muc) : login.users;
  const t0 = Date.now();
  const created = await target.provision(
    dataDir,
    Math.max(...workerCounts),
    Array.from({ length: userCount }, (_, i) => `${benchUser(i)}@${BENCH_DOMAIN}`),
    PASSWORD,
  );
  log(
    `${created} accounts created in ${dataDir} (${Date.now() - t0} ms); server pinned to ${pinServer ?? '-'}, generator to ${pinGenerator ?? '-'}`,
  );

  const shares: ScenarioParams[] =
    scenario === 'direct'
      ? directShares(direct, client, genThreads)
      : scenario === 'muc'
        ? mucShares(muc, client, genThreads, BENCH_DOMAIN, roomConfig)
        : loginShares(login, client, genThreads);
  const records: RunRecord[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      for (const workers of workerCounts) {
        const quietWaitMs = num('quiet-wait', v['quiet-wait'], 0) * 1000;
        if (quietWaitMs > 0) {
          const quiet = await waitForQuietHost(quietWaitMs, num('quiet-cores', v['quiet-cores'], 0));
          log(`machine busy ${quiet.busyCores.toFixed(2)} cores before run ${run} (waited ${(quiet.waitedMs / 1000).toFixed(0)} s)`);
        }
        const profRun = workerCounts.length > 1 ? `run-${run}-w${workers}` : `run-${run}`;
        const cpuProfDir = v['cpu-prof'] === undefined ? null : resolve(v['cpu-prof'], profRun);
        const server = await target.start({
          dataDir,
          workers,
          allowPlain: transport === 'plain',
          cpus: pinServer,
          cpuProfDir,
          logLevel: v['log-level'],
          runId: `${run}-${workers}`,
          archive: v.archive,
          ...(v['tls-groups'] === undefined ? {} : { tlsGroups: v['tls-groups'] }),
          ...(v['tls-engine'] === undefined ? {} : { tlsEngine: v['tls-engine'] }),
          ...(v['no-move'] ? { moveToHome: false } : {}),
          ...(v['no-hand-off'] ? { handOff: false } : {}),
        });
        log(`run ${run}/${runs}, ${workers} worker(s): server pid ${server.pid} up (c2s ${server.c2sPort}, tls ${server.tlsPort})`);
        let outcome: Awaited<ReturnType<typeof runGenerators>>;
        const budgetMs = times.setupTimeoutMs + times.warmupMs + times.durationMs + times.graceMs + 60_000;
        let watchdog: NodeJS.Timeout | undefined;
        try {
          outcome = await Promise.race([
            runGenerators(
              { host: server.host, port: server.c2sPort, tlsPort: server.tlsPort, domain: server.domain },
              server.pid,
              shares,
              times,
            ),
            new Promise<never>((_, reject) => {
              watchdog = setTimeout(() => reject(new Error(`run ${run} exceeded its ${budgetMs} ms budget`)), budgetMs);
            }),
          ]);
        } catch (err) {
          log(`run ${run} failed; server output:\n${server.output().slice(-3000)}`);
          throw err;
        } finally {
          clearTimeout(watchdog);
          const code = await server.stop();
          if (code !== 0) log(`server exited with ${code}; output:\n${server.output().slice(-3000)}`);
        }
        const o = outcome;
        const busiest = o.server.threads[0];
        const record: RunRecord = {
          scenario,
          target: target.name,
          run,
          date: new Date().toISOString(),
          config: { ...config, workers },
          machine,
          connections: scenario === 'login' ? login.concurrency : o.ready.connections,
          unit: scenario === 'direct' ? 'msg' : scenario === 'muc' ? 'stanza' : 'login',
          ops: o.report.ops,
          opsPerSec: o.report.ops / o.wallSec,
          attempts: o.report.attempts,
          errors: o.report.errors,
          lost: o.report.lost,
          skipped: o.report.skipped,
          disconnects: o.report.disconnects,
          latencyMs: {
            p50: o.latency.quantile(0.5) / 1000,
            p90: o.latency.quantile(0.9) / 1000,
            p99: o.latency.quantile(0.99) / 1000,
            max: o.latency.max / 1000,
            mean: o.latency.mean() / 1000,
          },
          sendLagMs: o.sendLag ? { p99: o.sendLag.quantile(0.99) / 1000, max: o.sendLag.max / 1000 } : null,
          serverCpuSec: o.server.cpuSec,
          serverCores: o.server.cores,
          serverCpuSecPer1k: o.report.ops > 0 ? (o.server.cpuSec / o.report.ops) * 1000 : Number.NaN,
          serverCpuUsPerOp: o.report.ops > 0 ? (o.server.cpuSec / o.report.ops) * 1e6 : Number.NaN,
          busiestThread: { name: busiest?.name ?? '-', cpuSec: busiest?.cpuSec ?? 0, share: busiest?.share ?? 0 },
          threads: o.server.threads.map((t) => ({ name: t.name, cpuSec: t.cpuSec, share: t.share })),
          peakRssMb: o.serverMemory.peakRssMb,
          rssMb: o.serverMemory.rssMb,
          generatorCores: o.generatorCpuSec / o.wallSec,
          hostOtherCores: o.hostOtherCores,
          loadAvg1: o.loadAvg1,
          crossShardPairs: scenario === 'direct' ? crossShardPairs(pairsOf(direct), workers) : null,
          firstError: o.report.firstError,
        };
        records.push(record);
        const line = JSON.stringify(record);
        console.log(line);
        if (v.out) appendFileSync(v.out, `${line}\n`);
        log(
          `run ${run}: ${Math.round(record.opsPerSec)} ${record.unit}/s, p50 ${record.latencyMs.p50.toFixed(2)} ms, p99 ${record.latencyMs.p99.toFixed(2)} ms, ` +
            `${record.serverCpuUsPerOp.toFixed(1)} µs server CPU/${record.unit}, busiest ${record.busiestThread.name} ${(record.busiestThread.share * 100).toFixed(0)}%, ` +
            `errors ${record.errors}, lost ${record.lost}` +
            `${record.sendLagMs ? `, send lag p99 ${record.sendLagMs.p99.toFixed(2)} ms` : ''}${record.firstError ? `; first error: ${record.firstError.slice(0, 300)}` : ''}`,
        );
      }
    }
  } finally {
    if (!v['data-dir']) await rm(dataDir, { recursive: true, force: true });
  }
  if (!v.json) console.log(`\n${runsTable(records)}\n\n${threadsTable(records)}`);
  if (!v.json && workerCounts.length > 1) console.log(`\n${scalingTable(records)}`);
  return 0;
}

function nameOf(file: string): string {
  return (file.split('/').pop() ?? file).replace(/\.jsonl?$/, '');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
