// Shared plumbing of the peer-server targets (prosody.ts, ejabberd.ts): free loopback ports, a
// self-signed P-256 certificate for `localhost` (waddle's generated certificate is P-256 as well, so
// the TLS handshakes cost the same kind of work), the server as a child process pinned with taskset,
// readiness by TCP connect, and the /proc lookup of the process whose CPU the harness must read.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { RunningTarget } from './waddle.ts';

export const PEER_HOST = '127.0.0.1';

export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ host: PEER_HOST, port: 0 }, () => resolve());
  });
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Writes `dir/cert.pem` and `dir/key.pem` (ECDSA P-256, CN and SAN localhost) once; returns their paths. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  if (!existsSync(cert) || !existsSync(key)) {
    // openssl rather than an npm package: it is on every machine that has the Debian servers.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
        '-days',
        '30',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
  }
  return { cert, key };
}

export interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
}

/** Parses /proc/<pid>/stat into pid, parent pid and comm (proc(5): comm in parentheses, ppid is field 4). */
export function parseProcEntry(stat: string): ProcEntry {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const rest = stat.slice(close + 2).split(' ');
  return { pid: Number(stat.slice(0, open).trim()), ppid: Number(rest[1]), comm: stat.slice(open + 1, close) };
}

/** `root` itself or its first descendant (breadth first) whose comm is `comm`, or null. */
export function findProcess(entries: readonly ProcEntry[], root: number, comm: string): number | null {
  const children = new Map<number, ProcEntry[]>();
  let self: ProcEntry | undefined;
  for (const e of entries) {
    if (e.pid === root) self = e;
    const list = children.get(e.ppid) ?? [];
    list.push(e);
    children.set(e.ppid, list);
  }
  if (self?.comm === comm) return root;
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const c of children.get(pid) ?? []) {
      if (c.comm === comm) return c.pid;
      queue.push(c.pid);
    }
  }
  return null;
}

function procTable(): ProcEntry[] {
  const out: ProcEntry[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      out.push(parseProcEntry(readFileSync(`/proc/${d}/stat`, 'utf8')));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: PEER_HOST, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

export interface PeerSpawn {
  /** Command and arguments (the harness prefixes `taskset -c CPUS`). */
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  cpus: string | null;
  /** comm of the process that does the work (its pid is what the harness samples in /proc). */
  workerComm: string;
  /** Ports that must accept connections before the server counts as ready. */
  readyPorts: number[];
  ports: { c2s: number; tls: number; http: number };
  /** Log file(s) of the server, appended to `output()` for diagnostics. */
  logFiles: string[];
  timeoutMs: number;
}

/** Spawns the server, waits until its ports accept connections and resolves the worker process's pid. */
export async function spawnPeer(p: PeerSpawn): Promise<RunningTarget> {
  const [cmd, ...args] = p.cpus === null ? p.argv : ['taskset', '-c', p.cpus, ...p.argv];
  const child: ChildProcess = spawn(cmd as string, args, { env: p.env, cwd: p.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
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
  if (child.pid === undefined) throw new Error(`could not spawn ${p.argv[0]}`);
  const logs = () => p.logFiles.map((f) => (existsSync(f) ? `--- ${f}\n${readFileSync(f, 'utf8').slice(-3000)}` : '')).join('\n');
  let workerPid = child.pid;
  const target: RunningTarget = {
    get pid() {
      return workerPid;
    },
    host: PEER_HOST,
    domain: 'localhost',
    c2sPort: p.ports.c2s,
    tlsPort: p.ports.tls,
    httpPort: p.ports.http,
    output: () => `${output}\n${logs()}`,
    exited: () => exitCode !== undefined,
    async stop(graceMs = 20_000) {
      if (exitCode !== undefined) return exitCode;
      // The worker may be a grandchild (erl's shell wrapper when exec is not used): signal it too.
      if (workerPid !== child.pid) {
        try {
          process.kill(workerPid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(workerPid, 'SIGKILL');
        } catch {
          // already gone
        }
        child.kill('SIGKILL');
      }, graceMs);
      const [code] = await exit;
      clearTimeout(timer);
      return code;
    },
  };
  const deadline = Date.now() + p.timeoutMs;
  for (;;) {
    if (target.exited()) throw new Error(`${p.argv[0]} exited during start:\n${target.output()}`);
    const found = findProcess(procTable(), child.pid, p.workerComm);
    if (found !== null && (await Promise.all(p.readyPorts.map(portOpen))).every(Boolean)) {
      workerPid = found;
      return target;
    }
    if (Date.now() > deadline) {
      await target.stop(2000);
      throw new Error(
        `${p.argv[0]} not ready within ${p.timeoutMs} ms (worker ${p.workerComm}: ${found ?? 'not found'}):\n${target.output()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
