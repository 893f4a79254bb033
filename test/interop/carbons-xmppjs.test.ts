// Interop with xmpp.js (@xmpp/client from npm) for XEP-0280 Message Carbons, against the real server
// process: alice (two resources) and bob are homed on different worker threads.
import t from 'tap';
import { xml } from '@xmpp/client';
import { Placement } from '../../src/shard/placement.ts';
import type { Element } from '../../src/xmpp/xml.ts';
import { addUser, type ServerProcess, startServerProcess } from '../helpers/server.ts';
import { connectXmppJs, usersOnDifferentShards } from '../helpers/xmpp-client.ts';

const CARBONS = 'urn:xmpp:carbons:2';
const FORWARD = 'urn:xmpp:forward:0';
const placement = new Placement(2);
const [a, b] = usersOnDifferentShards(placement);
const A = `${a}@localhost`;
const B = `${b}@localhost`;

/** The forwarded message inside a carbon of the given direction, or undefined. */
const carbonOf = (el: Element, direction: 'sent' | 'received') =>
  el.name === 'message' ? el.getChild(direction, CARBONS)?.getChild('forwarded', FORWARD)?.getChild('message') : undefined;

let server: ServerProcess;
t.before(async () => {
  const dataDir = t.testdir();
  await addUser(dataDir, A, 'pw-a');
  await addUser(dataDir, B, 'pw-b');
  server = await startServerProcess({ dataDir, workers: 2 });
});
t.teardown(() => server?.stop());

t.test(`carbons: ${A} (shard ${placement.shardOf(A)}) with two resources, ${B} (shard ${placement.shardOf(B)})`, async (t) => {
  t.not(placement.shardOf(A), placement.shardOf(B), 'homed on different shards');
  const laptop = await connectXmppJs({ port: server.c2sPort, username: a, password: 'pw-a', resource: 'laptop' });
  const phone = await connectXmppJs({ port: server.tlsPort, directTls: true, username: a, password: 'pw-a', resource: 'phone' });
  const bob = await connectXmppJs({ port: server.c2sPort, username: b, password: 'pw-b', resource: 'desk' });
  t.teardown(async () => {
    for (const c of [laptop, phone, bob]) await c.stop();
  });
  // The server may pick the resources (XEP-0386 Bind2), so the tests use the JIDs it bound.
  t.not(laptop.jid, phone.jid, 'two resources of one account');

  // XEP-0280 §3: the server advertises the feature.
  const info = await phone.xmpp.iqCaller.get(xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), 'localhost');
  t.ok(
    info.getChildren('feature').some((f: Element) => f.attrs.var === CARBONS),
    'disco#info of the server lists urn:xmpp:carbons:2',
  );

  // §4: only the phone enables carbons.
  const enabled = await phone.xmpp.iqCaller.set(xml('enable', { xmlns: CARBONS }));
  t.notOk(enabled, 'enable: an empty result');
  for (const c of [laptop, phone, bob]) await c.xmpp.send(xml('presence'));

  // §7: bob writes to the laptop; the phone gets a <received/> copy.
  await bob.xmpp.send(xml('message', { to: laptop.jid, type: 'chat', id: 'r1' }, xml('body', {}, 'hello laptop')));
  const original = await laptop.waitFor((el) => el.attrs.id === 'r1', 5000, 'original on the laptop');
  t.equal(original.getChildText('body'), 'hello laptop');
  t.notOk(original.getChild('received', CARBONS), 'the addressee gets the original, not a carbon');
  const received = await phone.waitFor((el) => carbonOf(el, 'received')?.attrs.id === 'r1', 5000, 'received carbon on the phone');
  t.equal(received.attrs.from, A, "the carbon comes from alice's bare JID");
  t.equal(received.attrs.to, phone.jid);
  t.equal(received.attrs.type, 'chat');
  const inner = carbonOf(received, 'received');
  t.equal(inner?.attrs.from, bob.jid);
  t.equal(inner?.attrs.to, laptop.jid);
  t.equal(inner?.getChildText('body'), 'hello laptop');

  // §8: the laptop writes to bob; the phone gets a <sent/> copy, bob the original.
  await laptop.xmpp.send(xml('message', { to: B, type: 'chat', id: 's1' }, xml('body', {}, 'hi bob')));
  const toBob = await bob.waitFor((el) => el.attrs.id === 's1', 5000, 'original at bob');
  t.equal(toBob.getChildText('body'), 'hi bob');
  const sent = await phone.waitFor((el) => carbonOf(el, 'sent')?.attrs.id === 's1', 5000, 'sent carbon on the phone');
  t.equal(sent.attrs.from, A);
  t.equal(sent.attrs.to, phone.jid);
  t.equal(carbonOf(sent, 'sent')?.attrs.from, laptop.jid, 'the original is from the laptop');
  t.equal(carbonOf(sent, 'sent')?.attrs.to, B);

  // The laptop never enabled carbons: it sees no copies of what the phone does.
  await phone.xmpp.send(xml('message', { to: B, type: 'chat', id: 's2' }, xml('body', {}, 'from the phone')));
  await bob.waitFor((el) => el.attrs.id === 's2', 5000, 'second message at bob');
  t.ok(await laptop.expectNone((el) => !!carbonOf(el, 'sent') || !!carbonOf(el, 'received')), 'no carbons on the laptop');

  // §5: after <disable/>, the phone gets no more copies.
  await phone.xmpp.iqCaller.set(xml('disable', { xmlns: CARBONS }));
  await bob.xmpp.send(xml('message', { to: laptop.jid, type: 'chat', id: 'r2' }, xml('body', {}, 'again')));
  await laptop.waitFor((el) => el.attrs.id === 'r2', 5000, 'second original on the laptop');
  t.ok(await phone.expectNone((el) => carbonOf(el, 'received')?.attrs.id === 'r2'), 'no copy after disable');
});
