// Interop: the real slixmpp client library (Debian python3-slixmpp 1.8.3) against the real server process
// (`node src/main.ts start`, 2 workers). Each scenario is a Python script in ./slixmpp/ that prints one JSON
// line per check ({check, ok, detail}); every check becomes its own assertion here, so a failure is
// visible by name. The two users of a scenario are picked on different shards, so every exchange crosses
// worker threads. The scripts run concurrently (distinct users per scenario) to keep the file fast.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Placement } from '../../src/shard/placement.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';

// The Debian interpreter: slixmpp is a system package, and the `python3` on PATH may be another Python.
const PYTHON = '/usr/bin/python3';
const SCRIPTS = fileURLToPath(new URL('./slixmpp/', import.meta.url));
// The scripts bound themselves (45 s deadline); this only stops a wedged interpreter.
const SCRIPT_KILL_MS = 60_000;
const WORKERS = 2;
const DOMAIN = 'localhost';

interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

interface ScriptRun {
  code: number | null;
  checks: Check[];
  /** stdout lines that are not checks, and stderr: shown when something fails. */
  noise: string;
}

interface Scenario {
  name: string;
  script: string;
  users: readonly ('alice' | 'bob')[];
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'SCRAM login over STARTTLS and direct TLS', script: 'login.py', users: ['alice'] },
  { name: 'roster, subscription handshake, presence and chat across shards', script: 'chat.py', users: ['alice', 'bob'] },
  { name: 'offline message delivered at next login with a delay', script: 'offline.py', users: ['alice', 'bob'] },
  { name: 'XEP-0191 blocking', script: 'blocking.py', users: ['alice', 'bob'] },
  { name: 'a stream error on other connections leaves sessions working', script: 'stream_error.py', users: ['alice', 'bob'] },
];

/** The first `<prefix><n>@localhost` whose home shard is `shard`. */
function userOnShard(placement: Placement, prefix: string, shard: number): string {
  for (let n = 0; ; n++) {
    const jid = `${prefix}${n}@${DOMAIN}`;
    if (placement.shardOf(jid) === shard) return jid;
  }
}

function runScript(script: string, config: unknown): Promise<ScriptRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  const child = spawn(PYTHON, [join(SCRIPTS, script), JSON.stringify(config)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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

const probe = spawnSync(PYTHON, ['-c', 'import slixmpp; print(slixmpp.__version__)'], { encoding: 'utf8' });
if (probe.status !== 0) {
  t.plan(0, `skip: slixmpp interop needs ${PYTHON} with python3-slixmpp installed: ${probe.stderr.trim()}`);
} else {
  t.comment(`slixmpp ${probe.stdout.trim()}`);
  const placement = new Placement(WORKERS);
  const dataDir = t.testdir();
  const plans = SCENARIOS.map((s, i) => {
    const users: Record<string, { jid: string; password: string }> = {};
    for (const [shard, name] of s.users.entries()) {
      const jid = userOnShard(placement, `${name}-s${i}-`, shard);
      users[name] = { jid, password: `pw-${name}-${i}` };
    }
    return { scenario: s, users };
  });
  // Accounts are created with the real `waddle user add` before the server starts.
  await Promise.all(plans.flatMap((p) => Object.values(p.users).map((u) => addUser(dataDir, u.jid, u.password, WORKERS))));
  const server = await startServerProcess({ dataDir, workers: WORKERS });
  t.teardown(() => server.stop());

  const base = {
    host: '127.0.0.1',
    c2sPort: server.c2sPort,
    tlsPort: server.tlsPort,
    ca: join(dataDir, 'tls', `${DOMAIN}.crt`),
    domain: DOMAIN,
  };
  const runs = await Promise.all(plans.map((p) => runScript(p.scenario.script, { ...base, users: p.users })));

  for (const [i, plan] of plans.entries()) {
    const run = runs[i];
    if (!run) continue;
    t.test(plan.scenario.name, async (tt) => {
      const alice = plan.users.alice?.jid;
      const bob = plan.users.bob?.jid;
      if (alice && bob) tt.not(placement.shardOf(alice), placement.shardOf(bob), `${alice} and ${bob} live on different shards`);
      tt.ok(run.checks.length > 0, `${plan.scenario.script} reported checks`, { noise: run.noise });
      for (const c of run.checks) tt.ok(c.ok, c.check, { detail: c.detail });
      tt.equal(run.code, 0, `${plan.scenario.script} exits 0`, run.code === 0 ? {} : { noise: run.noise });
    });
  }

  t.test('the server survived every scenario', async (tt) => {
    tt.equal(server.child.exitCode, null, 'server process still running');
    // pino level 50+ is error/fatal: an exception a scenario provoked inside the server.
    const errors = server.logs.filter((l) => typeof l.level === 'number' && l.level >= 50);
    tt.same(errors, [], 'server logged no errors while the scenarios ran');
    tt.equal(await server.stop(), 0, 'server stops cleanly on SIGTERM');
  });
}
