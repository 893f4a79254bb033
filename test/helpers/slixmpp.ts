// Runs the slixmpp interop scripts (test/interop/slixmpp/*.py) with Debian's Python and collects the
// one-JSON-line-per-check output, so each check becomes its own named assertion in tap.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Placement } from '../../src/shard/placement.ts';

// The Debian interpreter: slixmpp is a system package, and the `python3` on PATH may be another Python.
export const PYTHON = '/usr/bin/python3';
// The scripts bound themselves (45 s deadline); this only stops a wedged interpreter.
const SCRIPT_KILL_MS = 60_000;

export interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

export interface ScriptRun {
  code: number | null;
  checks: Check[];
  /** stdout lines that are not checks, and stderr: shown when something fails. */
  noise: string;
}

/** slixmpp's version, or an error: in CI (.ci/run installs python3-slixmpp) a missing slixmpp must fail, not skip. */
export function slixmppVersion(): { ok: true; version: string } | { ok: false; why: string } {
  const probe = spawnSync(PYTHON, ['-c', 'import slixmpp; print(slixmpp.__version__)'], { encoding: 'utf8' });
  if (probe.status === 0) return { ok: true, version: probe.stdout.trim() };
  return { ok: false, why: `slixmpp interop needs ${PYTHON} with python3-slixmpp installed: ${probe.stderr.trim()}` };
}

/** The first `<prefix><n>@<domain>` whose home shard is `shard`. */
export function userOnShard(placement: Placement, prefix: string, shard: number, domain = 'localhost'): string {
  for (let n = 0; ; n++) {
    const jid = `${prefix}${n}@${domain}`;
    if (placement.shardOf(jid) === shard) return jid;
  }
}

export function runSlixmppScript(script: string, config: unknown): Promise<ScriptRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  const path = fileURLToPath(new URL(`../interop/slixmpp/${script}`, import.meta.url));
  const child = spawn(PYTHON, [path, JSON.stringify(config)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const checks: Check[] = [];
  let noise = '';
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const parsed = JSON.parse(line) as Partial<Check>;
      if (typeof parsed.check === 'string' && typeof parsed.ok === 'boolean') {
        checks.push({ check: parsed.check, ok: parsed.ok, detail: String(parsed.detail ?? '') });
        return;
      }
    } catch {
      // not a check line: kept as noise below
    }
    noise += `${line}\n`;
  });
  child.stderr.on('data', (d: Buffer) => {
    noise += d.toString();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), SCRIPT_KILL_MS);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, checks, noise: noise.slice(-4000) });
    });
  });
}
