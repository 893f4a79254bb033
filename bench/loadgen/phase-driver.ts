// Thread host for scenarios whose phases do not fit pool.ts's go → warm-up → mark → window → stop
// (`idle` measures memory between phases; `presence` has online, update and offline phases). The
// main thread calls named phases on every generator thread and awaits their replies; the thread
// side (`serveDriver`) maps phase names to the driver's methods. Every call is bounded by a timeout.
// Also the run set-up both scenarios share with run.ts: options, pinning, provisioning, fresh server.
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parentPort, Worker } from 'node:worker_threads';
import { waitForQuietHost } from './proc-stats.ts';
import type { ClientParams, GenTarget } from './protocol.ts';
import type { Mechanism, TransportMode } from './xmpp-login.ts';
import { targetNamed } from '../targets/registry.ts';
import type { RunningTarget } from '../targets/waddle.ts';

type Call = { id: number; phase: string; arg: unknown };
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** Worker-thread side: answers phase calls with the handler's result. */
export function serveDriver(handlers: Record<string, (arg: unknown) => Promise<unknown> | unknown>): void {
  if (!parentPort) throw new Error('serveDriver runs only in a worker thread');
  const port = parentPort;
  port.on('message', (c: Call) => {
    const h = handlers[c.phase];
    const reply = (r: Reply) => port.postMessage(r);
    if (!h) return reply({ id: c.id, ok: false, error: `unknown phase '${c.phase}'` });
    Promise.resolve()
      .then(() => h(c.arg))
      .then(
        (value) => reply({ id: c.id, ok: true, value }),
        (err: unknown) => reply({ id: c.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
    if (c.phase === 'close') setTimeout(() => port.close(), 50);
  });
}

/** Main-thread side: one generator thread running `entry` with `workerData = init`. */
export class DriverThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;
  #dead: Error | null = null;

  constructor(entry: URL, init: unknown) {
    this.#worker = new Worker(entry, { workerData: init });
    this.#worker.on('message', (r: Reply) => {
      const p = this.#pending.get(r.id);
      this.#pending.delete(r.id);
      if (r.ok) p?.resolve(r.value);
      else p?.reject(new Error(`generator thread: ${r.error}`));
    });
    const die = (err: Error) => {
      this.#dead ??= err;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    this.#worker.on('error', die);
    this.#worker.on('exit', () => die(new Error('generator thread exited')));
  }

  call<T>(phase: string, arg: unknown, timeoutMs: number): Promise<T> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`generator thread: phase '${phase}' took more than ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#worker.postMessage({ id, phase, arg } satisfies Call);
    });
  }

  async close(): Promise<void> {
    try {
      await this.call('close', null, 30_000);
    } catch {
      // terminate below
    }
    await this.#worker.terminate();
  }
}

/** Calls `phase` on every thread and waits for all replies. */
export function callAll<T>(threads: readonly DriverThread[], phase: string, arg: unknown, timeoutMs: number): Promise<T[]> {
  return Promise.all(threads.map((t) => t.call<T>(phase, arg, timeoutMs)));
}

export interface CommonOptions {
  /** `--target`: waddle, prosody or ejabberd (bench/targets/registry.ts). */
  target: string;
  workers: number;
  runs: number;
  transport: TransportMode;
  mechanism: Mechanism;
  pinServer: string | null;
  pinGenerator: string | null;
  genCpus: number;
  out: string | undefined;
  json: boolean;
  quietWaitMs: number;
  quietCores: number;
  dataDir: string | undefined;
  logLevel: string;
  /** `[tls] groups` for the server (undefined: OpenSSL's default). */
  tlsGroups: string | undefined;
  /** `[tls] engine` for the server (undefined: the server's default). */
  tlsEngine: string | undefined;
  /** `--no-hand-off`: `[tls] hand_off = false` (lean TLS keeps OpenSSL for the whole connection). */
  noHandOff: boolean;
}

export const COMMON_OPTIONS = {
  target: { type: 'string', default: 'waddle' },
  workers: { type: 'string', default: '2' },
  runs: { type: 'string', default: '3' },
  tls: { type: 'boolean', default: false },
  plain: { type: 'boolean', default: false },
  mech: { type: 'string' },
  'gen-threads': { type: 'string' },
  'pin-server': { type: 'string' },
  'pin-gen': { type: 'string' },
  'no-pin': { type: 'boolean', default: false },
  out: { type: 'string' },
  json: { type: 'boolean', default: false },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string', default: 'warn' },
  'quiet-wait': { type: 'string', default: '60' },
  'quiet-cores': { type: 'string', default: '0.3' },
  'tls-groups': { type: 'string' },
  'tls-engine': { type: 'string' },
  'no-hand-off': { type: 'boolean', default: false },
} as const;

export function num(name: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in [${min}, ${max}], got '${v}'`);
  return n;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Same defaults as run.ts: server on CPU 0, generator on CPU 1, when taskset exists and there are >= 2 CPUs. */
export function commonOptions(v: Record<string, string | boolean | undefined>): CommonOptions {
  const transport: TransportMode = v.plain ? 'plain' : 'starttls';
  const target = targetNamed((v.target as string | undefined) ?? 'waddle');
  for (const flag of ['tls-groups', 'tls-engine', 'no-hand-off'])
    if (v[flag] !== undefined && v[flag] !== false && target.name !== 'waddle')
      throw new Error(`--${flag} applies to --target waddle only`);
  const mechanism = ((v.mech as string | undefined) ?? (transport === 'plain' ? target.plainMechanism : 'PLAIN')) as Mechanism;
  if (mechanism === 'PLAIN' && transport === 'plain') throw new Error('the server offers PLAIN only over TLS (RFC 6120 §13.8)');
  const nproc = os.cpus().length;
  const pin = !v['no-pin'] && hasTaskset() && nproc >= 2;
  const pinServer = pin ? ((v['pin-server'] as string | undefined) ?? '0') : null;
  const pinGenerator = pin ? ((v['pin-gen'] as string | undefined) ?? '1') : null;
  if (pinGenerator !== null) execFileSync('taskset', ['-a', '-p', '-c', pinGenerator, String(process.pid)], { stdio: 'ignore' });
  const genCpus = pinGenerator === null ? nproc : pinGenerator.split(',').length;
  return {
    target: target.name,
    workers: num('workers', v.workers as string, 1, 256),
    runs: num('runs', v.runs as string, 1, 100),
    transport,
    mechanism,
    pinServer,
    pinGenerator,
    genCpus,
    out: v.out as string | undefined,
    json: v.json === true,
    quietWaitMs: num('quiet-wait', v['quiet-wait'] as string, 0) * 1000,
    quietCores: num('quiet-cores', v['quiet-cores'] as string, 0),
    dataDir: v['data-dir'] as string | undefined,
    logLevel: (v['log-level'] as string | undefined) ?? 'warn',
    tlsGroups: v['tls-groups'] as string | undefined,
    tlsEngine: v['tls-engine'] as string | undefined,
    noHandOff: v['no-hand-off'] === true,
  };
}

export const PASSWORD = 'bench-password-1';
export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

export function clientParams(c: CommonOptions, addresses: number): ClientParams {
  return {
    transport: c.transport,
    mechanism: c.mechanism,
    password: PASSWORD,
    localAddresses: Array.from({ length: addresses }, (_, i) => `127.0.0.${i + 1}`),
    timeoutMs: 30_000,
  };
}

export function machineInfo() {
  return { nproc: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version };
}

/** Prints and stores one record as a JSON line (as run.ts does). */
export function emit(c: CommonOptions, record: object): void {
  const line = JSON.stringify(record);
  console.log(line);
  if (c.out) appendFileSync(c.out, `${line}\n`);
}

/**
 * Provisions `jids` (plus whatever `extra` writes, e.g. rosters) once, then calls `run` for each run on
 * a freshly started server, which is always stopped afterwards.
 */
export async function withServers(
  c: CommonOptions,
  jids: string[],
  extra: (dataDir: string) => Promise<void>,
  run: (server: RunningTarget, target: GenTarget, n: number) => Promise<void>,
): Promise<void> {
  const dataDir = c.dataDir ? resolve(c.dataDir) : await mkdtemp(join(os.tmpdir(), 'waddle-bench-'));
  await mkdir(dataDir, { recursive: true });
  try {
    const t0 = Date.now();
    const target = targetNamed(c.target);
    const created = await target.provision(dataDir, c.workers, jids, PASSWORD);
    await extra(dataDir);
    log(`${created} accounts provisioned in ${dataDir} (${Date.now() - t0} ms)`);
    for (let n = 1; n <= c.runs; n++) {
      if (c.quietWaitMs > 0) {
        const q = await waitForQuietHost(c.quietWaitMs, c.quietCores);
        log(`machine busy ${q.busyCores.toFixed(2)} cores before run ${n}`);
      }
      const server = await target.start({
        dataDir,
        workers: c.workers,
        allowPlain: c.transport === 'plain',
        cpus: c.pinServer,
        cpuProfDir: null,
        logLevel: c.logLevel,
        runId: String(n),
        ...(c.tlsGroups === undefined ? {} : { tlsGroups: c.tlsGroups }),
        ...(c.tlsEngine === undefined ? {} : { tlsEngine: c.tlsEngine }),
        ...(c.noHandOff ? { handOff: false } : {}),
      });
      log(`run ${n}/${c.runs}: ${target.name} pid ${server.pid}`);
      try {
        await run(server, { host: server.host, port: server.c2sPort, tlsPort: server.tlsPort, domain: server.domain }, n);
      } catch (err) {
        log(`run ${n} failed; server output:\n${server.output().slice(-3000)}`);
        throw err;
      } finally {
        const code = await server.stop();
        if (code !== 0) log(`server exited with ${code}; output:\n${server.output().slice(-3000)}`);
      }
    }
  } finally {
    if (!c.dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}
