// Interop: the real slixmpp client library (Debian python3-slixmpp 1.8.3) against the real server process
// (`node src/main.ts start`, 2 workers). Each scenario is a Python script in ./slixmpp/ that prints one JSON
// line per check ({check, ok, detail}); every check becomes its own assertion here, so a failure is
// visible by name. The two users of a scenario are picked on different shards, so every exchange crosses
// worker threads. The scripts run concurrently (distinct users per scenario) to keep the file fast.
import { join } from 'node:path';
import t from 'tap';
import { Placement } from '../../src/shard/placement.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';
import { runSlixmppScript, slixmppVersion, userOnShard } from '../helpers/slixmpp.ts';

const WORKERS = 2;
const DOMAIN = 'localhost';

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

const probe = slixmppVersion();
if (!probe.ok) {
  if (process.env.CI) t.fail(probe.why);
  else t.plan(0, `skip: ${probe.why}`);
} else {
  t.comment(`slixmpp ${probe.version}`);
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
  const runs = await Promise.all(plans.map((p) => runSlixmppScript(p.scenario.script, { ...base, users: p.users })));

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
