// XEP-0198 against the real server: acks, an abrupt TCP drop, resumption on another connection
// (possibly another shard) with every unacknowledged stanza delivered exactly once and in order, a
// stale id answered with <failed h='…'/>, and unacknowledged messages stored offline on timeout.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Element } from '../../src/xmpp/xml.ts';
import { connectRaw, type RawClient } from '../helpers/raw-client.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';

const SM = 'urn:xmpp:sm:3';
const isStanza = (el: Element) => ['message', 'presence', 'iq'].includes(el.name);

async function loginWithSm(port: number, user: string, resource: string): Promise<{ c: RawClient; id: string }> {
  const c = await connectRaw(port);
  await c.login(user, 'pw', resource);
  c.send(`<enable xmlns='${SM}' resume='true'/>`);
  const enabled = await c.waitFor((el) => el.name === 'enabled' || el.name === 'failed');
  if (enabled.name !== 'enabled') throw new Error(enabled.toString());
  return { c, id: String(enabled.attrs.id) };
}

/** Stanzas received since SM was enabled (what the client reports as h). */
function handled(c: RawClient): number {
  const from = c.elements.findIndex((el) => el.name === 'enabled');
  return c.elements.slice(from + 1).filter(isStanza).length;
}

t.test('stream management', async (t) => {
  const dataDir = t.testdir();
  const config = join(dataDir, 'waddle.toml');
  writeFileSync(config, '[stream_management]\nresume_timeout = 3\n');
  for (const u of ['alice', 'bob']) await addUser(dataDir, `${u}@localhost`, 'pw');
  const server = await startServerProcess({ dataDir, workers: 2, configFile: config });
  t.teardown(() => server.stop());

  const bob = await connectRaw(server.c2sPort);
  await bob.login('bob', 'pw', 'b');
  const { c: alice, id } = await loginWithSm(server.c2sPort, 'alice', 'phone');
  t.match(id, /.+/, 'enabled with a resumption id');

  // Acks both ways.
  alice.send(`<r xmlns='${SM}'/>`);
  t.equal((await alice.waitFor((el) => el.name === 'a')).attrs.h, '0', 'nothing handled yet');
  alice.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
  await alice.waitFor((el) => el.attrs.id === 'p1');
  alice.send(`<r xmlns='${SM}'/>`);
  t.ok(await alice.waitFor((el) => el.name === 'a' && el.attrs.h === '1'), 'one stanza handled');

  const send = (from: RawClient, n: number) =>
    from.send(`<message to='alice@localhost/phone' type='chat' id='m${n}'><body>${n}</body></message>`);
  for (let i = 1; i <= 5; i++) send(bob, i);
  await alice.waitFor((el) => el.attrs.id === 'm5');
  const got1 = alice.elements.filter((el) => el.name === 'message').map((el) => String(el.attrs.id));
  // Alice acknowledges what she handled up to m3 (the ping result counts too): m4 and m5 stay unacked.
  const received = alice.elements.slice(alice.elements.findIndex((el) => el.name === 'enabled') + 1).filter(isStanza);
  const h = received.findIndex((el) => el.attrs.id === 'm3') + 1;
  alice.send(`<a xmlns='${SM}' h='${h}'/>`);
  await new Promise((r) => setTimeout(r, 100));

  // Abrupt drop: no closing tag.
  alice.destroy();
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 6; i <= 8; i++) send(bob, i);
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(
    bob.elements.some((el) => el.attrs.type === 'error'),
    'messages to the detached session are accepted, not bounced',
  );

  const again = await connectRaw(server.tlsPort, { directTls: true });
  await again.open();
  t.equal((await again.authPlain('alice', 'pw')).name, 'success');
  await again.open();
  again.send(`<resume xmlns='${SM}' previd='${id}' h='${h}'/>`);
  const resumed = await again.waitFor((el) => el.name === 'resumed' || el.name === 'failed');
  t.equal(resumed.name, 'resumed', 'resumed');
  t.equal(resumed.attrs.h, '1', 'the server reports what it handled');
  await again.waitFor((el) => el.attrs.id === 'm8');
  const got2 = again.elements.filter((el) => el.name === 'message').map((el) => String(el.attrs.id));
  t.same(got1, ['m1', 'm2', 'm3', 'm4', 'm5'], 'first connection got 1-5');
  t.same(got2, ['m4', 'm5', 'm6', 'm7', 'm8'], 'resumption resends the unacknowledged (4, 5) and what came while away, in order');
  t.same([...got1.slice(0, 3), ...got2], ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'], 'every message exactly once, in order');

  // The resumed session works normally.
  again.send(`<message to='bob@localhost/b' type='chat' id='back'><body>back</body></message>`);
  await bob.waitFor((el) => el.attrs.id === 'back');
  t.pass('the resumed session sends');

  // Drop again and let the resumption time out: unacknowledged messages go to offline storage.
  again.send(`<a xmlns='${SM}' h='${handled(again)}'/>`);
  await new Promise((r) => setTimeout(r, 100));
  again.destroy();
  await new Promise((r) => setTimeout(r, 200));
  send(bob, 9);
  await server.waitForLog((l) => l.msg === 'stream management: resumption timed out', 10_000);
  const late = await connectRaw(server.c2sPort);
  await late.open();
  await late.startTls();
  await late.open();
  await late.authPlain('alice', 'pw');
  await late.open();
  late.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
  const failed = await late.waitFor((el) => el.name === 'failed');
  t.ok(failed.getChild('item-not-found'), 'a timed-out id fails with item-not-found');
  t.match(String(failed.attrs.h), /^\d+$/, '<failed/> carries h for a stale id');
  t.equal(await late.bind('phone'), 'alice@localhost/phone', 'and the client binds a new session');
  late.send('<presence/>');
  const stored = await late.waitFor((el) => el.attrs.id === 'm9');
  t.ok(stored.getChild('delay', 'urn:xmpp:delay'), 'the unacknowledged message was stored offline, not lost');

  // A clean close ends the session: no resumption.
  const { c: clean, id: cleanId } = await loginWithSm(server.c2sPort, 'alice', 'tablet');
  clean.send('</stream:stream>');
  await clean.closed;
  const after = await connectRaw(server.c2sPort);
  await after.open();
  await after.startTls();
  await after.open();
  await after.authPlain('alice', 'pw');
  await after.open();
  after.send(`<resume xmlns='${SM}' previd='${cleanId}' h='0'/>`);
  t.equal((await after.waitFor((el) => el.name === 'failed' || el.name === 'resumed')).name, 'failed', 'no resumption after a clean close');
  for (const c of [bob, late, after]) c.destroy();
});
