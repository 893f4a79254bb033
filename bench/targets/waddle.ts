// The waddle server as a benchmark target: bulk account provisioning straight into the storage files
// (before the server starts), a TOML config per run, and the server as a child process
// (`node src/main.ts start --config F`, as test/helpers/server.ts does), optionally pinned with taskset
// and profiled with --cpu-prof. Readiness is polled on /health because at log level 'warn' the
// server does not print its 'waddle started' line.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Placement } from '../../src/shard/placement.ts';
import { openUserStores } from '../../src/storage/user-stores.ts';
import { deriveCredentials } from '../../src/stream/sasl/credentials.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
export const BENCH_DOMAIN = 'localhost';
const HOST = '127.0.0.1';

export interface TargetOptions {
  dataDir: string;
  workers: number;
  /** require_tls = false (plain-TCP runs); else STARTTLS is required as in production. */
  allowPlain: boolean;
  /** taskset CPU list for the server, or null for no pinning. */
  cpus: string | null;
  /** Directory for --cpu-prof output (main thread and shard workers), or null. */
  cpuProfDir: string | null;
  logLevel: string;
  /** Label for the config file name. */
  runId: string;
  /**
   * waddle: XEP-0313 archiving (personal and room archives). Off unless true, so throughput runs measure
   * routing, not archive writes (`--archive` turns it on); the peers' configs have no MAM either.
   */
  archive?: boolean;
  /** waddle: `[tls] groups` (e.g. "X25519:P-256"); unset → OpenSSL's default list (X25519MLKEM768 first). */
  tlsGroups?: string;
  /** waddle: `[tls] engine` ('lean' | 'node'); unset → the server's default ('auto': lean when built). */
  tlsEngine?: string;
  /** waddle: `[c2s] move_to_home`; unset → the server's default (true). */
  moveToHome?: boolean;
  /** waddle: `[tls] hand_off`; unset → the server's default (true). */
  handOff?: boolean;
}

export interface RunningTarget {
  pid: number;
  host: string;
  domain: string;
  c2sPort: number;
  tlsPort: number;
  httpPort: number;
  /** The server's stderr and non-JSON stdout so far (last 8 KB), for diagnostics. */
  output(): string;
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Creates `users` (bare JIDs) in the data directory's user files. One credential set is derived and
 * stored for everyone: PBKDF2 is the slow part of `waddle user add`, and a shared salt also lets the
 * generator cache its SCRAM salted password. Existing accounts are left as they are.
 */
export async function provisionUsers(dataDir: string, workers: number, users: readonly string[], password: string): Promise<number> {
  const stores = openUserStores({ dataDir, placement: new Placement(workers), shard: 'all' });
  try {
    const credentials = await deriveCredentials(password);
    const createdAt = Date.now();
    let created = 0;
    // Chunks keep the number of pending promises bounded; the write batcher commits each chunk in
    // a few transactions.
    for (let i = 0; i < users.length; i += 2000) {
      const chunk = users.slice(i, i + 2000);
      const results = await Promise.all(chunk.map((jid) => stores.accounts.create({ jid, credentials, createdAt })));
      created += results.filter(Boolean).length;
    }
    await stores.flush();
    return created;
  } finally {
    await stores.close();
  }
}

/** Benchmark user names: u0@domain, u1@domain, … */
export function benchUser(i: number): string {
  return `u${i}`;
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ host: HOST, port: 0 }, () => resolve());
  });
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function configToml(o: TargetOptions, ports: { c2s: number; tls: number; http: number }): string {
  return [
    `domain = "${BENCH_DOMAIN}"`,
    `data_dir = ${JSON.stringify(o.dataDir)}`,
    `workers = ${o.workers}`,
    '',
    '[c2s]',
    `host = "${HOST}"`,
    `port = ${ports.c2s}`,
    `tls_port = ${ports.tls}`,
    `require_tls = ${!o.allowPlain}`,
    ...(o.moveToHome === undefined ? [] : [`move_to_home = ${o.moveToHome}`]),
    '',
    '[http]',
    `host = "${HOST}"`,
    `port = ${ports.http}`,
    '',
    '[log]',
    `level = "${o.logLevel}"`,
    '',
    '[archive]',
    `enabled = ${o.archive === true}`,
    '',
    '[tls]',
    ...(o.tlsGroups === undefined ? [] : [`groups = ${JSON.stringify(o.tlsGroups)}`]),
    ...(o.tlsEngine === undefined ? [] : [`engine = ${JSON.stringify(o.tlsEngine)}`]),
    ...(o.handOff === undefined ? [] : [`hand_off = ${o.handOff}`]),
    '',
  ].join('\n');
}

export async function startWaddle(o: TargetOptions): Promise<RunningTarget> {
  const ports = { c2s: await freePort(), tls: await freePort(), http: await freePort() };
  const configFile = join(o.dataDir, `bench-${o.runId}.toml`);
  await writeFile(configFile, configToml(o, ports));
  const nodeArgs = o.cpuProfDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`];
  const serverArgs = [...nodeArgs, MAIN, 'start', '--config', configFile];
  // WADDLE_* variables would override the file (src/config/load.ts): drop them so the file decides.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WADDLE_')));
  const child: ChildProcess =
    o.cpus === null
      ? spawn(process.execPath, serverArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] })
      : // taskset execs node in place, so the child's pid is the server's pid.
        spawn('taskset', ['-c', o.cpus, process.execPath, ...serverArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  let exitCode: number | null | undefined;
  void exit.then(([code]) => {
    exitCode = code;
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the server');
  const target: RunningTarget = {
    pid,
    host: HOST,
    domain: BENCH_DOMAIN,
    c2sPort: ports.c2s,
    tlsPort: ports.tls,
    httpPort: ports.http,
    output: () => output,
    exited: () => exitCode !== undefined,
    async stop(graceMs = 20_000) {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const [code] = await exit;
      clearTimeout(timer);
      return code;
    },
  };
  await waitHealthy(target, 30_000);
  return target;
}

async function waitHealthy(t: RunningTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (t.exited()) throw new Error(`the server exited during start:\n${t.output()}`);
    try {
      const res = await fetch(`http://${t.host}:${t.httpPort}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await t.stop(2000);
  throw new Error(`the server did not answer /health within ${timeoutMs} ms:\n${t.output()}`);
}
