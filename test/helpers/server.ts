// Starts the real server as a child process (`node src/main.ts start`), the way an operator does,
// on free ports with its data in a test directory; reads the ports from the startup log line.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  domain: string;
  dataDir: string;
  c2sPort: number;
  tlsPort: number;
  httpPort: number;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line (from now on or already seen) matching the predicate. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startServerProcess(opts: {
  dataDir: string;
  workers?: number;
  env?: Record<string, string>;
  configFile?: string;
}): Promise<ServerProcess> {
  const env = {
    ...process.env,
    WADDLE_DOMAIN: 'localhost',
    WADDLE_DATA_DIR: opts.dataDir,
    WADDLE_WORKERS: String(opts.workers ?? 2),
    WADDLE_C2S_PORT: '0',
    WADDLE_C2S_TLS_PORT: '0',
    WADDLE_HTTP_PORT: '0',
    WADDLE_LOG_LEVEL: 'info',
    WADDLE_TEST_HOOKS: '1',
    ...opts.env,
  };
  const args = [MAIN, 'start', ...(opts.configFile ? ['--config', opts.configFile] : [])];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    logs.push(parsed);
    for (const w of [...waiters]) {
      if (w.pred(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  });
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) => {
    const seen = logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a log line; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  };
  const exited = once(child, 'exit');
  const started = await Promise.race([
    waitForLog((l) => l.msg === 'waddle started', 30_000),
    exited.then(([code]) => {
      throw new Error(`server exited with ${code} before starting: ${stderr.slice(-4000)}`);
    }),
  ]);
  return {
    child,
    domain: 'localhost',
    dataDir: opts.dataDir,
    c2sPort: Number(started.c2s),
    tlsPort: Number(started.c2sTls),
    httpPort: Number(started.http),
    logs,
    waitForLog,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** Creates an account with the real `waddle user add` command. */
export async function addUser(dataDir: string, jid: string, password: string, workers = 2): Promise<void> {
  const child = spawn(process.execPath, [MAIN, 'user', 'add', jid, '--password', password], {
    env: { ...process.env, WADDLE_DATA_DIR: dataDir, WADDLE_DOMAIN: 'localhost', WADDLE_WORKERS: String(workers) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`waddle user add ${jid} failed (${code}): ${out}`);
}
