// The operator's `waddle waddle …` commands against a RUNNING server: they go through the worker owning
// the Waddle (HTTP admin endpoint → control port → rpc), so a ban removes the user from the channel at
// once (XEP-0045 §9.1 status 301), and a restart keeps the channel, its affiliations and its history.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { xml } from '@xmpp/client';
import t from 'tap';
import { Placement } from '../../src/shard/placement.ts';
import type { Element } from '../../src/xmpp/xml.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';
import { connectXmppJs, type TestXmpp } from '../helpers/xmpp-client.ts';

const BIN = fileURLToPath(new URL('../../bin/waddle.js', import.meta.url));
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const CHANNEL = 'general@penguins.groups.localhost';

async function waddle(dataDir: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, 'waddle', ...args], {
    env: { ...process.env, WADDLE_DATA_DIR: dataDir, WADDLE_DOMAIN: 'localhost', WADDLE_WORKERS: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out, err };
}

const statusCodes = (p: Element): string[] =>
  p
    .getChild('x', MUC_USER)
    ?.getChildren('status')
    .map((s) => String(s.attrs.code)) ?? [];

async function join(c: TestXmpp, nick: string): Promise<Element> {
  c.received.length = 0; // earlier self-presences must not satisfy this wait
  await c.xmpp.send(xml('presence', { to: `${CHANNEL}/${nick}` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })));
  return c.waitFor(
    (el) =>
      el.name === 'presence' && el.attrs.from === `${CHANNEL}/${nick}` && (statusCodes(el).includes('110') || el.attrs.type === 'error'),
    15_000,
    `${nick}'s self-presence`,
  );
}

t.test('operator commands reach live rooms; a restart keeps channel, affiliations and history', async (t) => {
  const dataDir = t.testdir();
  const placement = new Placement(2);
  // The channel lives on the Waddle's shard; alice and bob are on different shards (one of them crosses the rings).
  const [alice, bob] = ['alice', 'bob', 'carol', 'dave', 'erin'].reduce<string[]>((acc, n) => {
    if (acc.length === 0 || (acc.length === 1 && placement.shardOf(`${n}@localhost`) !== placement.shardOf(`${acc[0]}@localhost`)))
      acc.push(n);
    return acc;
  }, []) as [string, string];
  await addUser(dataDir, `${alice}@localhost`, 'pw-alice');
  await addUser(dataDir, `${bob}@localhost`, 'pw-bob');
  let server = await startServerProcess({ dataDir });
  t.teardown(() => server.stop());

  const created = await waddle(dataDir, ['create', 'penguins', '--name', 'Penguin Club', '--owner', alice]);
  t.equal(created.code, 0, `create through the running server: ${created.err}`);
  t.ok(server.logs.some((l) => l.msg === 'admin request failed') === false, 'the admin endpoint took it without errors');
  t.equal((await waddle(dataDir, ['channel', 'penguins', 'create', 'general', '--title', 'General'])).code, 0);
  t.equal((await waddle(dataDir, ['member', 'penguins', bob, '--role', 'member'])).code, 0);

  const a = await connectXmppJs({ port: server.c2sPort, username: alice, password: 'pw-alice', resource: 'desk' });
  const b = await connectXmppJs({ port: server.c2sPort, username: bob, password: 'pw-bob', resource: 'phone' });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  const selfA = await join(a, 'Alice');
  t.notOk(selfA.attrs.type === 'error', 'the Waddle owner joins the channel');
  t.equal(selfA.getChild('x', MUC_USER)?.getChild('item')?.attrs.affiliation, 'owner', 'Waddle owner = room owner');
  await a.xmpp.send(xml('message', { to: CHANNEL, type: 'groupchat', id: 'm1' }, xml('body', {}, 'hello penguins')));
  await a.waitFor((el) => el.name === 'message' && el.attrs.id === 'm1', 10_000, 'the reflected groupchat');

  const selfB = await join(b, 'Bob');
  t.equal(selfB.getChild('x', MUC_USER)?.getChild('item')?.attrs.affiliation, 'member', 'a Waddle member is a room member');
  const history = await b.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'hello penguins', 10_000, 'history');
  t.ok(history.getChild('delay', 'urn:xmpp:delay'), 'history on join carries a delay');

  // The operator bans bob while he sits in the channel: the running server applies it at once.
  const banned = await waddle(dataDir, ['member', 'penguins', bob, '--role', 'banned']);
  t.equal(banned.code, 0, banned.err);
  const gone = await b.waitFor(
    (el) => el.name === 'presence' && el.attrs.type === 'unavailable' && statusCodes(el).includes('301'),
    10_000,
    'the ban (301)',
  );
  t.ok(statusCodes(gone).includes('110'), 'bob is told it is about himself');
  await a.waitFor(
    (el) => el.name === 'presence' && el.attrs.from === `${CHANNEL}/Bob` && statusCodes(el).includes('301'),
    10_000,
    'the others see the ban',
  );
  const refused = await join(b, 'Bob');
  t.equal(refused.attrs.type, 'error', 'a banned user cannot rejoin');
  t.ok(refused.getChild('error')?.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas'), 'forbidden (§7.2.7)');

  // Restart: the channel, alice's ownership, bob's ban and the history are all on disk.
  await a.stop();
  await b.stop();
  t.equal(await server.stop(), 0, 'clean shutdown');
  server = await startServerProcess({ dataDir });
  const a2 = await connectXmppJs({ port: server.c2sPort, username: alice, password: 'pw-alice', resource: 'desk' });
  t.teardown(() => a2.stop());
  const again = await join(a2, 'Alice');
  t.equal(again.getChild('x', MUC_USER)?.getChild('item')?.attrs.affiliation, 'owner', 'still owner after the restart');
  const kept = await a2.waitFor(
    (el) => el.name === 'message' && el.getChildText('body') === 'hello penguins',
    10_000,
    'history after restart',
  );
  t.ok(kept.getChild('stanza-id', 'urn:xmpp:sid:0'), 'history from the archive keeps its stanza-id');
  await a2.xmpp.send(
    xml(
      'iq',
      { to: CHANNEL, type: 'get', id: 'bans' },
      xml('query', { xmlns: 'http://jabber.org/protocol/muc#admin' }, xml('item', { affiliation: 'outcast' })),
    ),
  );
  const bans = await a2.waitFor((el) => el.name === 'iq' && el.attrs.id === 'bans', 10_000, 'the ban list');
  t.same(
    bans
      .getChild('query')
      ?.getChildren('item')
      .map((i) => i.attrs.jid),
    [`${bob}@localhost`],
    'the ban survived the restart',
  );
});
