// Operator commands reach a running server through its HTTP admin endpoint (src/primary/http.ts), so a
// change goes through the worker owning the data (its caches and live rooms see it) rather than through a
// second writer on the file. When no server runs, commands work on the files directly.
//
// Discovery: the running primary writes <data>/admin.json { pid, port }; the token is derived from the
// server secret (<data>/secret, mode 0600), so reading the data directory is what makes an operator.
import { createHmac } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ENDPOINT_FILE = 'admin.json';

export function adminToken(secret: string): string {
  return createHmac('sha256', secret).update('waddle admin endpoint v1').digest('hex');
}

export async function writeAdminEndpoint(dataDir: string, port: number): Promise<void> {
  await writeFile(join(dataDir, ENDPOINT_FILE), `${JSON.stringify({ pid: process.pid, port })}\n`, { mode: 0o600 });
}

export async function removeAdminEndpoint(dataDir: string): Promise<void> {
  await rm(join(dataDir, ENDPOINT_FILE), { force: true });
}

export class AdminError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

export interface RunningAdmin {
  /** Runs rpc `method` (named `admin.…`) on the worker owning `key`; rejects with AdminError. */
  call(key: string, method: string, params: unknown): Promise<unknown>;
}

/** The running server of this data directory, or undefined when none runs (stale files are ignored). */
export async function findRunningServer(dataDir: string): Promise<RunningAdmin | undefined> {
  let endpoint: { pid: number; port: number };
  let secret: string;
  try {
    endpoint = JSON.parse(await readFile(join(dataDir, ENDPOINT_FILE), 'utf8')) as typeof endpoint;
    secret = (await readFile(join(dataDir, 'secret'), 'utf8')).trim();
  } catch {
    return undefined;
  }
  if (!isAlive(endpoint.pid)) return undefined;
  const token = adminToken(secret);
  return {
    async call(key, method, params) {
      let res: Response;
      try {
        res = await fetch(`http://127.0.0.1:${endpoint.port}/admin/rpc`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ key, method, params }),
          signal: AbortSignal.timeout(15_000),
        });
      } catch (err) {
        throw new AdminError(`the server (pid ${endpoint.pid}) did not answer on port ${endpoint.port}: ${String(err)}`, 'unavailable');
      }
      const body = (await res.json()) as { ok: boolean; value?: unknown; error?: string; code?: string };
      if (!body.ok) throw new AdminError(body.error ?? `HTTP ${res.status}`, body.code ?? 'error');
      return body.value;
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
