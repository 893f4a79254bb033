// Interop with xmpp.js (@xmpp/client from npm), a real third-party client, against the real server:
// two users whose sessions live on different worker threads, over STARTTLS and direct TLS.
import t from 'tap';
import { xml } from '@xmpp/client';
import { Placement } from '../../src/shard/placement.ts';
import type { Element } from '../../src/xmpp/xml.ts';
import { connectRaw } from '../helpers/raw-client.ts';
import { addUser, type ServerProcess, startServerProcess } from '../helpers/server.ts';
import { connectXmppJs, usersOnDifferentShards, type TestXmpp } from '../helpers/xmpp-client.ts';

const placement = new Placement(2);
// Two users homed on different shards, so everything between them crosses the rings.
const [a, b] = usersOnDifferentShards(placement);
const A = `${a}@localhost`;
const B = `${b}@localhost`;

const isPresenceFrom = (bare: string, type?: string) => (el: Element) =>
  el.name === 'presence' && String(el.attrs.from ?? '').split('/')[0] === bare && el.attrs.type === type;
/** The roster item for `contact` in a roster push (an iq) or a roster result payload (a query). */
const rosterItem = (el: Element, contact: string) =>
  (el.name === 'query' ? el : el.getChild('query', 'jabber:iq:roster'))?.getChildren('item').find((i) => i.attrs.jid === contact);

let server: ServerProcess;
t.before(async () => {
  const dataDir = t.testdir();
  await addUser(dataDir, A, 'pw-a');
  await addUser(dataDir, B, 'pw-b');
  server = await startServerProcess({ dataDir, workers: 2 });
});
t.teardown(() => server?.stop());

t.test(`${A} (shard ${placement.shardOf(A)}) and ${B} (shard ${placement.shardOf(B)})`, async (t) => {
  t.not(placement.shardOf(A), placement.shardOf(B), 'homed on different shards');
  const alice = await connectXmppJs({ port: server.c2sPort, username: a, password: 'pw-a', resource: 'laptop' });
  const bob = await connectXmppJs({ port: server.tlsPort, directTls: true, username: b, password: 'pw-b', resource: 'phone' });
  t.teardown(async () => {
    await alice.stop();
    await bob.stop();
  });
  // xmpp.js uses SASL2 with Bind2 when offered: the resource is the client's tag plus a server part.
  t.match(alice.jid, new RegExp(`^${A}/laptop\\.`), 'alice bound over STARTTLS (SASL2, SCRAM, Bind2)');
  t.match(bob.jid, new RegExp(`^${B}/phone\\.`), 'bob bound over direct TLS (SASL2, SCRAM, Bind2)');
  for (const c of [alice, bob]) {
    // The log line travels through the server's stdout pipe: wait for it rather than race it.
    await server.waitForLog((l) => l.msg === 'session bound' && l.sasl2 === true && l.jid === c.jid, 5000);
  }
  t.pass('the server bound both through SASL2 + Bind2');

  // Roster: both fetch (becoming interested in pushes), alice adds bob.
  for (const c of [alice, bob]) await c.xmpp.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
  await alice.xmpp.iqCaller.set(xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: B, name: 'Bob' })));
  const push = await alice.waitFor((el) => el.name === 'iq' && el.attrs.type === 'set' && !!rosterItem(el, B), 5000, 'roster push');
  t.equal(rosterItem(push, B)?.attrs.name, 'Bob', 'roster push carries the item');

  for (const c of [alice, bob]) await c.xmpp.send(xml('presence'));
  // Subscription handshake, both ways.
  await alice.xmpp.send(xml('presence', { to: B, type: 'subscribe' }));
  const request = await bob.waitFor(isPresenceFrom(A, 'subscribe'), 5000, 'subscription request');
  t.equal(request.attrs.from, A, 'the request comes from the bare JID');
  await bob.xmpp.send(xml('presence', { to: A, type: 'subscribed' }));
  await bob.xmpp.send(xml('presence', { to: A, type: 'subscribe' }));
  await alice.waitFor(isPresenceFrom(B, 'subscribed'), 5000, 'subscribed');
  await alice.waitFor(isPresenceFrom(B, 'subscribe'), 5000, 'reverse request');
  await alice.xmpp.send(xml('presence', { to: B, type: 'subscribed' }));
  await alice.waitFor((el) => el.name === 'iq' && rosterItem(el, B)?.attrs.subscription === 'both', 5000, 'both on alice');
  await bob.waitFor((el) => el.name === 'iq' && rosterItem(el, A)?.attrs.subscription === 'both', 5000, 'both on bob');
  const rosterA = await alice.xmpp.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
  t.equal(rosterItem(rosterA, B)?.attrs.subscription, 'both', "alice's stored roster says both");

  // Presence both ways.
  await alice.waitFor(isPresenceFrom(B, undefined), 5000, "bob's presence");
  await bob.waitFor(isPresenceFrom(A, undefined), 5000, "alice's presence");
  t.pass('presence seen both ways');
  await bob.xmpp.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'lunch')));
  const away = await alice.waitFor((el) => isPresenceFrom(B, undefined)(el) && el.getChildText('show') === 'away', 5000, 'away');
  t.equal(away.getChildText('status'), 'lunch', 'presence updates are broadcast');

  // Chat both ways, in order.
  for (let i = 0; i < 5; i++) await alice.xmpp.send(xml('message', { to: B, type: 'chat', id: `a${i}` }, xml('body', {}, `hello ${i}`)));
  for (let i = 0; i < 5; i++) await bob.xmpp.send(xml('message', { to: alice.jid, type: 'chat', id: `b${i}` }, xml('body', {}, `hi ${i}`)));
  await bob.waitFor((el) => el.attrs.id === 'a4', 5000, 'last message to bob');
  await alice.waitFor((el) => el.attrs.id === 'b4', 5000, 'last message to alice');
  t.same(
    bob.received.filter((el) => el.name === 'message').map((m) => m.getChildText('body')),
    [0, 1, 2, 3, 4].map((i) => `hello ${i}`),
    'bob got all, in order',
  );
  t.same(
    alice.received.filter((el) => el.name === 'message').map((m) => m.getChildText('body')),
    [0, 1, 2, 3, 4].map((i) => `hi ${i}`),
    'alice got all, in order',
  );
  t.equal(bob.received.find((el) => el.attrs.id === 'a0')?.attrs.from, alice.jid, 'from is the full JID, stamped by the server');

  // A message to an unknown user bounces with service-unavailable.
  await alice.xmpp.send(xml('message', { to: 'nobody@localhost', type: 'chat', id: 'nobody' }, xml('body', {}, 'anyone?')));
  const bounce = await alice.waitFor((el) => el.attrs.id === 'nobody' && el.attrs.type === 'error', 5000, 'bounce');
  t.ok(bounce.getChild('error')?.getChild('service-unavailable'), 'unknown user: service-unavailable');

  // A raw connection sending malformed XML gets a stream error; the two sessions are unaffected.
  const rogue = await connectRaw(server.c2sPort);
  await rogue.open();
  rogue.send('<iq><</iq>');
  const err = await rogue.waitFor((el) => el.name === 'stream:error');
  t.ok(err.getChild('not-well-formed'), 'not-well-formed to the offender');
  await alice.xmpp.send(xml('message', { to: B, type: 'chat', id: 'after' }, xml('body', {}, 'still here')));
  t.equal((await bob.waitFor((el) => el.attrs.id === 'after', 5000)).getChildText('body'), 'still here', 'others keep working');

  // Blocking (XEP-0191): bob blocks alice; alice's message bounces and never reaches bob.
  await bob.xmpp.iqCaller.set(xml('block', { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid: A })));
  await alice.xmpp.send(xml('message', { to: B, type: 'chat', id: 'blocked' }, xml('body', {}, 'you there?')));
  const blocked = await alice.waitFor((el) => el.attrs.id === 'blocked' && el.attrs.type === 'error', 5000, 'blocked bounce');
  t.ok(blocked.getChild('error')?.getChild('service-unavailable'), 'a blocked sender gets service-unavailable');
  t.ok(await bob.expectNone((el) => el.attrs.id === 'blocked'), 'bob never sees it');
  // XEP-0191 §3.3: alice sees bob go offline, and bob's later presence never reaches her.
  await alice.waitFor((el) => isPresenceFrom(B, 'unavailable')(el), 5000, 'unavailable on block');
  await bob.xmpp.send(xml('presence', {}, xml('status', {}, 'hidden from alice')));
  t.ok(await alice.expectNone((el) => el.getChildText('status') === 'hidden from alice'), 'no presence to a blocked contact');
  const list = await bob.xmpp.iqCaller.get(xml('blocklist', { xmlns: 'urn:xmpp:blocking' }));
  t.same(
    list.getChildren('item').map((i) => i.attrs.jid),
    [A],
    'block list',
  );
  await bob.xmpp.iqCaller.set(xml('unblock', { xmlns: 'urn:xmpp:blocking' }));
  await alice.waitFor(
    (el) => isPresenceFrom(B, undefined)(el) && el.getChildText('status') === 'hidden from alice',
    5000,
    'presence again after unblock',
  );
  await alice.xmpp.send(xml('message', { to: B, type: 'chat', id: 'unblocked' }, xml('body', {}, 'again')));
  await bob.waitFor((el) => el.attrs.id === 'unblocked', 5000, 'delivered after unblock');

  // Offline: bob goes away; alice sees him leave; her message waits for his next login.
  await bob.stop();
  await alice.waitFor(isPresenceFrom(B, 'unavailable'), 5000, 'unavailable on disconnect');
  await alice.xmpp.send(xml('message', { to: B, type: 'chat', id: 'offline1' }, xml('body', {}, 'see you later')));
  await new Promise((r) => setTimeout(r, 300));
  const bob2: TestXmpp = await connectXmppJs({ port: server.c2sPort, username: b, password: 'pw-b', resource: 'tablet' });
  t.teardown(() => bob2.stop());
  await bob2.xmpp.send(xml('presence'));
  const stored = await bob2.waitFor((el) => el.attrs.id === 'offline1', 5000, 'offline message');
  t.equal(stored.getChildText('body'), 'see you later', 'offline message delivered at next login');
  t.ok(stored.getChild('delay', 'urn:xmpp:delay'), 'with a XEP-0203 delay stamp');
  await alice.waitFor((el) => el.attrs.from === bob2.jid && el.name === 'presence', 5000, 'bob back online');
});
