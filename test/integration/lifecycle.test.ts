// Operation: /metrics aggregated over the workers, a crashed worker restarted with nothing stored
// lost, and SIGTERM closing every stream cleanly before exiting 0.
import t from 'tap';
import { Placement } from '../../src/shard/placement.ts';
import { connectRaw } from '../helpers/raw-client.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';

const STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';

t.test('metrics, worker crash and restart, graceful stop', async (t) => {
  const dataDir = t.testdir();
  await addUser(dataDir, 'alice@localhost', 'alice-pw');
  await addUser(dataDir, 'bob@localhost', 'bob-pw');
  const server = await startServerProcess({ dataDir, workers: 2 });
  t.teardown(() => server.stop());

  const alice = await connectRaw(server.c2sPort);
  await alice.login('alice', 'alice-pw', 'desk');
  const res = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`);
  t.equal(res.status, 200, '/metrics answers');
  const text = await res.text();
  for (const shard of ['0', '1'])
    t.match(text, new RegExp(`xmpp_c2s_connections\\{[^}]*shard="${shard}"`), `connection gauge of shard ${shard}`);
  t.match(text, /xmpp_sasl_auth_total\{[^}]*result="success"[^}]*\} [1-9]/, 'successful logins are counted');
  t.match(text, /xmpp_sessions_bound\{[^}]*\} 1/, 'one bound session');
  t.match(text, /xmpp_mesh_ring_occupancy_bytes/, 'ring occupancy is exported');
  t.match(text, /process_resident_memory_bytes/, 'process metrics from the primary');

  // Crash the home shard of alice: her session state lived there, so her connection must be closed
  // with a stream error, and she can log in again once the worker is back.
  const home = new Placement(2).shardOf('alice@localhost');
  await fetch(`http://127.0.0.1:${server.httpPort}/debug/crash?worker=${home}`, { method: 'POST' });
  await server.waitForLog((l) => l.msg === 'shard exited; restarting' && l.worker === home);
  await alice.closed;
  t.ok(alice.isClosed(), 'the connection of a session homed on the crashed worker is closed');
  await server.waitForLog(
    (l) =>
      l.msg === 'shard ready' && l.worker === home && server.logs.filter((x) => x.msg === 'shard ready' && x.worker === home).length >= 2,
  );
  const again = await connectRaw(server.c2sPort);
  t.match(
    await again.login('alice', 'alice-pw', 'desk'),
    /^alice@localhost\/desk$/,
    'alice logs in again after the restart (account kept)',
  );
  const after = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  t.match(after, /xmpp_worker_restarts_total\{[^}]*\} 1/, 'the restart is counted');

  // SIGTERM: every client gets <system-shutdown/> and a closing tag, and the process exits 0.
  const bob = await connectRaw(server.tlsPort, { directTls: true });
  await bob.login('bob', 'bob-pw');
  const code = server.stop();
  for (const c of [again, bob]) {
    const err = await c.waitFor((el) => el.name === 'stream:error');
    t.ok(err.getChild('system-shutdown', STREAMS), 'system-shutdown stream error');
    await c.closed;
  }
  t.equal(await code, 0, 'exit code 0 after SIGTERM');
  t.ok(
    server.logs.some((l) => l.msg === 'stopped'),
    'logged a clean stop',
  );
});
