// XEP-0077 in-band registration (on by config), password change and removal; idle detection with the
// server's XEP-0199 ping; the pre-TLS register feature is not offered when registration is off.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { connectRaw } from '../helpers/raw-client.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';

const REGISTER = 'jabber:iq:register';

t.test('in-band registration, password change, removal; idle ping and timeout', async (t) => {
  const dataDir = t.testdir();
  const config = join(dataDir, 'waddle.toml');
  writeFileSync(config, 'registration = true\n[c2s]\nidle_timeout = 2\n');
  const server = await startServerProcess({ dataDir, workers: 2, configFile: config });
  t.teardown(() => server.stop());

  const c = await connectRaw(server.c2sPort);
  await c.open();
  await c.startTls();
  const features = await c.open();
  t.ok(features.getChild('register', 'http://jabber.org/features/iq-register'), 'register stream feature offered');
  c.send(`<iq type='get' id='r1'><query xmlns='${REGISTER}'/></iq>`);
  const form = await c.waitFor((el) => el.attrs.id === 'r1');
  t.ok(form.getChild('query')?.getChild('username') && form.getChild('query')?.getChild('password'), 'form asks for username and password');
  c.send(`<iq type='set' id='r2'><query xmlns='${REGISTER}'><username>Zoe</username><password>first</password></query></iq>`);
  t.equal((await c.waitFor((el) => el.attrs.id === 'r2')).attrs.type, 'result', 'registered');
  c.send(`<iq type='set' id='r3'><query xmlns='${REGISTER}'><username>zoe</username><password>again</password></query></iq>`);
  const conflict = await c.waitFor((el) => el.attrs.id === 'r3');
  t.ok(conflict.getChild('error')?.getChild('conflict'), 'a taken username is a conflict (case-insensitive)');
  t.equal((await c.authPlain('zoe', 'first')).name, 'success', 'the new account logs in');
  await c.open();
  t.equal(await c.bind('r'), 'zoe@localhost/r');

  c.send(`<iq type='set' id='r4'><query xmlns='${REGISTER}'><username>zoe</username><password>second</password></query></iq>`);
  t.equal((await c.waitFor((el) => el.attrs.id === 'r4')).attrs.type, 'result', 'password changed in-band');

  // Idle: no traffic for 2 s → the server pings; our answer keeps the stream open.
  const ping = await c.waitFor((el) => el.name === 'iq' && !!el.getChild('ping', 'urn:xmpp:ping'), 15_000);
  t.equal(ping.attrs.type, 'get', 'server pings an idle client');
  c.send(`<iq type='result' id='${ping.attrs.id}' to='localhost'/>`);
  await new Promise((r) => setTimeout(r, 1500));
  t.notOk(c.isClosed(), 'an answered ping keeps the session');

  const fresh = await connectRaw(server.c2sPort);
  t.match(await fresh.login('zoe', 'second'), /^zoe@localhost\//, 'the changed password works on a new connection');
  fresh.destroy();

  c.send(`<iq type='set' id='r5'><query xmlns='${REGISTER}'><remove/></query></iq>`);
  t.equal((await c.waitFor((el) => el.attrs.id === 'r5')).attrs.type, 'result', 'account removed');
  await c.closed;
  const gone = await connectRaw(server.c2sPort);
  await gone.open();
  await gone.startTls();
  await gone.open();
  t.equal((await gone.authPlain('zoe', 'second')).name, 'failure', 'the removed account can no longer log in');

  // A silent client (never answers the ping) is disconnected with connection-timeout.
  await addUser(dataDir, 'quiet@localhost', 'pw');
  const quiet = await connectRaw(server.c2sPort);
  await quiet.login('quiet', 'pw');
  const err = await quiet.waitFor((el) => el.name === 'stream:error', 20_000);
  t.ok(err.getChild('connection-timeout'), 'connection-timeout after an unanswered ping');
});
