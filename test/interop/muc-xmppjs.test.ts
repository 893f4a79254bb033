// Interop with xmpp.js (@xmpp/client) for group chat and archives against the real waddle process: the
// scenario of test/helpers/muc-xmppjs-scenario.ts, which also passes against Prosody 0.12
// (muc-prosody.test.ts). The two users are homed on different shards and the room on a third party's
// shard choice (both placements are asserted), so fan-out and archive queries cross worker threads.
import t from 'tap';
import { Placement } from '../../src/shard/placement.ts';
import { xmppJsMucScenario } from '../helpers/muc-xmppjs-scenario.ts';
import { addUser, type ServerProcess, startServerProcess } from '../helpers/server.ts';
import { userOnShard } from '../helpers/slixmpp.ts';

const WORKERS = 2;
const placement = new Placement(WORKERS);
const A = userOnShard(placement, 'alice-js', 0);
const B = userOnShard(placement, 'bob-js', 1);
// Rooms on both shards: one homed with alice, one with bob.
const ROOMS = [userOnShard(placement, 'jsroom', 0, 'conference.localhost'), userOnShard(placement, 'jsroom', 1, 'conference.localhost')];
const local = (jid: string) => jid.split('@')[0] as string;

let server: ServerProcess;
t.before(async () => {
  const dataDir = t.testdir();
  await addUser(dataDir, A, 'pw-a-js', WORKERS);
  await addUser(dataDir, B, 'pw-b-js', WORKERS);
  server = await startServerProcess({ dataDir, workers: WORKERS });
});
t.teardown(() => server?.stop());

for (const [i, room] of ROOMS.entries()) {
  t.test(`room ${room} on shard ${i}; ${A} on shard 0, ${B} on shard 1`, async (tt) => {
    tt.equal(placement.shardOf(room), i, `the room is homed on shard ${i}`);
    tt.not(placement.shardOf(A), placement.shardOf(B), 'the users are homed on different shards');
    await xmppJsMucScenario(tt, {
      c2sPort: server.c2sPort,
      users: { alice: { local: local(A), password: 'pw-a-js' }, bob: { local: local(B), password: 'pw-b-js' } },
      room,
    });
  });
}

t.test('the server survived', async (tt) => {
  const errors = server.logs.filter((l) => typeof l.level === 'number' && l.level >= 50);
  tt.same(errors, [], 'server logged no errors');
});
