// Interop: XEP-0198 stream management with the real slixmpp client library (Debian python3-slixmpp
// 1.8.3, its xep_0198 plugin) against the real server process (2 workers). The scenario in
// ./slixmpp/stream_management.py drops alice's TCP connection abruptly twice while bob keeps writing, and
// slixmpp resumes once over STARTTLS and once over direct TLS; it prints one JSON line per check
// ({check, ok, detail}) and each becomes its own assertion here. The server's log is checked too: it
// must have seen an unclean drop (session kept) and two resumptions, not new sessions.
import { join } from 'node:path';
import t from 'tap';
import { Placement } from '../../src/shard/placement.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';
import { runSlixmppScript, slixmppVersion, userOnShard } from '../helpers/slixmpp.ts';

const WORKERS = 2;
const DOMAIN = 'localhost';
const RESUMPTIONS = 2;

const probe = slixmppVersion();
if (!probe.ok) {
  if (process.env.CI) t.fail(probe.why);
  else t.plan(0, `skip: ${probe.why}`);
} else {
  t.test(`slixmpp ${probe.version} resumes after abrupt drops without losing or duplicating messages`, async (t) => {
    const placement = new Placement(WORKERS);
    const dataDir = t.testdir();
    const users = {
      alice: { jid: userOnShard(placement, 'sm-alice-', 0), password: 'pw-alice' },
      bob: { jid: userOnShard(placement, 'sm-bob-', 1), password: 'pw-bob' },
    };
    for (const u of Object.values(users)) await addUser(dataDir, u.jid, u.password, WORKERS);
    const server = await startServerProcess({ dataDir, workers: WORKERS });
    t.teardown(() => server.stop());

    const run = await runSlixmppScript('stream_management.py', {
      host: '127.0.0.1',
      c2sPort: server.c2sPort,
      tlsPort: server.tlsPort,
      ca: join(dataDir, 'tls', `${DOMAIN}.crt`),
      domain: DOMAIN,
      users,
    });
    t.not(placement.shardOf(users.alice.jid), placement.shardOf(users.bob.jid), 'alice and bob live on different shards');
    t.ok(run.checks.length > 0, 'stream_management.py reported checks', { noise: run.noise });
    for (const c of run.checks) t.ok(c.ok, c.check, { detail: c.detail });
    t.equal(run.code, 0, 'stream_management.py exits 0', run.code === 0 ? {} : { noise: run.noise });

    // The server's view: each drop was unclean (the session was kept, XEP-0198 §5) and each came back
    // as a resumption; none timed out.
    const kept = server.logs.filter((l) => l.msg === 'connection lost; session kept for resumption');
    const resumed = server.logs.filter((l) => l.msg === 'stream management: resumed');
    t.equal(kept.length, RESUMPTIONS, 'the server kept the session after each abrupt drop');
    t.equal(resumed.length, RESUMPTIONS, 'the server logged each resumption');
    // How many stanzas came back by retransmission, not live, depends on timing (the script lets
    // bob's messages settle for 300 ms before alice returns), so only "some" is asserted; the script
    // checks the invariant that matters: every message exactly once, in order.
    t.comment(
      `unacked at each drop: ${kept.map((l) => String(l.unacked)).join(', ')}; resent: ${resumed.map((l) => String(l.resent)).join(', ')}`,
    );
    for (const [i, l] of resumed.entries()) t.ok(Number(l.resent) > 0, `resumption ${i + 1} retransmitted the unacknowledged stanzas`);
    t.notOk(
      server.logs.some((l) => l.msg === 'stream management: resumption timed out'),
      'no resumption timed out',
    );
    const errors = server.logs.filter((l) => typeof l.level === 'number' && l.level >= 50);
    t.same(errors, [], 'server logged no errors');
    t.equal(await server.stop(), 0, 'server stops cleanly on SIGTERM');
  });
}
