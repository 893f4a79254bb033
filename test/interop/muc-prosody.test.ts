// The group chat (XEP-0045) and archive (XEP-0313) interop scripts against Prosody 0.12, the reference
// server: the same slixmpp scripts (./slixmpp/muc.py, ./slixmpp/mam.py) and xmpp.js scenario that
// muc-slixmpp.test.ts and muc-xmppjs.test.ts run against waddle. A check that fails here is wrong about
// the XEP (or Prosody is), not about waddle: this file keeps the scripts honest.
// Prosody runs as a child process with its own config, data directory and loopback ports
// (test/helpers/prosody.ts); in CI (.ci/run installs it) a missing Prosody fails the test.
import t from 'tap';
import { xmppJsMucScenario } from '../helpers/muc-xmppjs-scenario.ts';
import { PROSODY_MUC, prosodyVersion, startProsody } from '../helpers/prosody.ts';
import { runSlixmppScript, slixmppVersion } from '../helpers/slixmpp.ts';

const DOMAIN = 'localhost';

interface ScriptPlan {
  name: string;
  script: string;
  users: Record<string, { jid: string; password: string }>;
  rooms: Record<string, string>;
}

const users = (tag: string, names: readonly string[]) =>
  Object.fromEntries(names.map((n) => [n, { jid: `${n}-${tag}@${DOMAIN}`, password: `pw-${n}-${tag}` }]));

const PLANS: readonly ScriptPlan[] = [
  {
    name: 'XEP-0045 group chat (slixmpp)',
    script: 'muc.py',
    users: users('muc', ['alice', 'bob', 'carol']),
    rooms: { open: `lounge@${PROSODY_MUC}`, reserved: `board@${PROSODY_MUC}` },
  },
  {
    name: 'XEP-0313 archives (slixmpp)',
    script: 'mam.py',
    users: users('mam', ['alice', 'bob', 'carol']),
    rooms: { archive: `archived@${PROSODY_MUC}` },
  },
];
const JS_USERS = { alice: { local: 'alice-js', password: 'pw-a-js' }, bob: { local: 'bob-js', password: 'pw-b-js' } };

const prosody = prosodyVersion();
const slix = slixmppVersion();
const missing = [prosody, slix].find((p) => !p.ok);
if (missing && !missing.ok) {
  if (process.env.CI) t.fail(missing.why);
  else t.plan(0, `skip: ${missing.why}`);
} else {
  t.comment(`Prosody ${prosody.ok ? prosody.version : ''}, slixmpp ${slix.ok ? slix.version : ''}`);
  const accounts: Record<string, string> = {};
  for (const p of PLANS) for (const u of Object.values(p.users)) accounts[u.jid] = u.password;
  for (const u of Object.values(JS_USERS)) accounts[`${u.local}@${DOMAIN}`] = u.password;
  const server = await startProsody({ dir: t.testdir(), users: accounts });
  t.teardown(() => server.stop());
  const base = { host: server.host, c2sPort: server.c2sPort, tlsPort: server.tlsPort, ca: server.ca, domain: DOMAIN, muc: server.muc };

  // The scripts use distinct users and rooms, so they run concurrently.
  const runs = await Promise.all(PLANS.map((p) => runSlixmppScript(p.script, { ...base, users: p.users, rooms: p.rooms })));
  for (const [i, plan] of PLANS.entries()) {
    const run = runs[i];
    if (!run) continue;
    t.test(`${plan.name} against Prosody`, async (tt) => {
      tt.ok(run.checks.length > 0, `${plan.script} reported checks`, { noise: run.noise });
      for (const c of run.checks) tt.ok(c.ok, c.check, { detail: c.detail });
      tt.equal(run.code, 0, `${plan.script} exits 0`, run.code === 0 ? {} : { noise: run.noise, prosody: server.output() });
    });
  }

  t.test('xmpp.js: groupchat, room and personal archives against Prosody', (tt) =>
    xmppJsMucScenario(tt, { c2sPort: server.c2sPort, users: JS_USERS, room: `jsroom@${PROSODY_MUC}` }),
  );

  t.test('Prosody survived every scenario', async (tt) => {
    tt.notOk(server.exited(), 'Prosody still running');
    tt.same(server.errors(), [], 'Prosody logged no errors');
    tt.equal(await server.stop(), 0, 'Prosody stops cleanly on SIGTERM');
  });
}
