// Interop: the slixmpp group chat (XEP-0045) and archive (XEP-0313) scripts against the real waddle
// process (`node src/main.ts start`, 2 workers). The same scripts pass against Prosody 0.12 in
// muc-prosody.test.ts, so a failure here is waddle's. Users are homed on different shards and the rooms
// on either shard (a room's home is its bare JID's shard: src/shard/realm.ts), so joins, fan-out,
// moderation and archive queries all cross worker threads.
import { join } from 'node:path';
import t from 'tap';
import { Placement } from '../../src/shard/placement.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';
import { runSlixmppScript, slixmppVersion, userOnShard } from '../helpers/slixmpp.ts';

const WORKERS = 2;
const DOMAIN = 'localhost';
const MUC = `conference.${DOMAIN}`;

interface Plan {
  name: string;
  script: string;
  /** user name → home shard */
  users: Record<string, number>;
  /** room role → home shard */
  rooms: Record<string, number>;
}

const PLANS: readonly Plan[] = [
  {
    name: 'XEP-0045 group chat',
    script: 'muc.py',
    users: { alice: 0, bob: 1, carol: 0 },
    // The open room lives away from its owner; the reserved one with her.
    rooms: { open: 1, reserved: 0 },
  },
  { name: 'XEP-0313 archives', script: 'mam.py', users: { alice: 1, bob: 0, carol: 1 }, rooms: { archive: 0 } },
];

const probe = slixmppVersion();
if (!probe.ok) {
  if (process.env.CI) t.fail(probe.why);
  else t.plan(0, `skip: ${probe.why}`);
} else {
  t.comment(`slixmpp ${probe.version}`);
  const placement = new Placement(WORKERS);
  const dataDir = t.testdir();
  const plans = PLANS.map((p, i) => ({
    plan: p,
    users: Object.fromEntries(
      Object.entries(p.users).map(([name, shard]) => [
        name,
        { jid: userOnShard(placement, `${name}-m${i}-`, shard), password: `pw-${name}-m${i}` },
      ]),
    ),
    // userOnShard with the conference domain yields `<prefix><n>@conference.localhost`, a room bare JID.
    rooms: Object.fromEntries(Object.entries(p.rooms).map(([role, shard]) => [role, userOnShard(placement, `${role}-m${i}-`, shard, MUC)])),
  }));
  await Promise.all(plans.flatMap((p) => Object.values(p.users).map((u) => addUser(dataDir, u.jid, u.password, WORKERS))));
  const server = await startServerProcess({ dataDir, workers: WORKERS });
  t.teardown(() => server.stop());
  const base = {
    host: '127.0.0.1',
    c2sPort: server.c2sPort,
    tlsPort: server.tlsPort,
    ca: join(dataDir, 'tls', `${DOMAIN}.crt`),
    domain: DOMAIN,
    muc: MUC,
  };
  const runs = await Promise.all(plans.map((p) => runSlixmppScript(p.plan.script, { ...base, users: p.users, rooms: p.rooms })));

  for (const [i, p] of plans.entries()) {
    const run = runs[i];
    if (!run) continue;
    t.test(`${p.plan.name} against waddle`, async (tt) => {
      for (const [role, room] of Object.entries(p.rooms)) {
        tt.equal(placement.shardOf(room), p.plan.rooms[role], `${role} room ${room} is homed on shard ${p.plan.rooms[role]}`);
      }
      tt.ok(run.checks.length > 0, `${p.plan.script} reported checks`, { noise: run.noise });
      for (const c of run.checks) tt.ok(c.ok, c.check, { detail: c.detail });
      tt.equal(run.code, 0, `${p.plan.script} exits 0`, run.code === 0 ? {} : { noise: run.noise });
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
