// XEP-0160 offline messages: storage at the Fallback of RFC 6121 §8.5, XEP-0203 delay on delivery,
// removal after delivery, the per-user limit and XEP-0334 / XEP-0085 storage hints. Two shards.
import t, { type Test } from 'tap';
import messaging from '../../../src/modules/messaging/index.ts';
import offline from '../../../src/modules/offline/index.ts';
import { storageDecision } from '../../../src/modules/offline/storable.ts';
import type { Config } from '../../../src/config/schema.ts';
import { NS } from '../../../src/xmpp/ns.ts';
import { parseElement } from '../../../src/xmpp/stream-parser.ts';
import type { Element } from '../../../src/xmpp/xml.ts';
import { createTestCluster, type TestClient, type TestCluster } from '../../helpers/test-shard.ts';

const ALICE = 'alice@localhost'; // sender, shard 1
const JULIET = 'juliet@localhost'; // offline recipient, shard 0

async function cluster(t: Test, config?: Partial<Config>): Promise<TestCluster> {
  const c = await createTestCluster({ modules: [messaging, offline], shards: 2, ...(config ? { config } : {}) });
  t.teardown(() => c.stop());
  await c.createAccounts(...[ALICE, JULIET]);
  return c;
}

/** Stands in for the presence module: initial presence with `priority`, then 'session:available'. */
async function becomeAvailable(c: TestCluster, client: TestClient, priority: number): Promise<void> {
  const s = c.sessionOf(client);
  s.available = true;
  s.priority = priority;
  await c.shards[c.placement.shardOf(s.bare)]?.registry.hooks.fire('session:available', { session: s });
  await c.settle();
}

const store = (c: TestCluster) => {
  const s = c.stores[0];
  if (!s) throw new Error('no store');
  return s.offline;
};

function errorCondition(el: Element | undefined): string | undefined {
  return el
    ?.getChild('error')
    ?.getChildElements()
    .find((e) => e.attrs.xmlns === NS.STANZAS)?.name;
}

t.test('sender and recipient are homed on different shards', async (t) => {
  const c = await cluster(t);
  t.not(c.placement.shardOf(ALICE), c.placement.shardOf(JULIET));
  t.ok(c.shards[0]?.registry.discoFeatures('server').includes('msgoffline'), 'XEP-0160 §4: msgoffline at the server');
  t.notOk(c.shards[0]?.registry.discoFeatures('account').includes('msgoffline'));
});

t.test('stored while offline, delivered in order with XEP-0203 delay on the next initial presence, then removed', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  const before = Date.now();
  alice.send(`<message to='${JULIET}' type='chat' id='m1'><body>one</body></message>`);
  alice.send(`<message to='${JULIET}/balcony' type='chat' id='m2'><body>two</body></message>`);
  alice.send(`<message to='${JULIET}' id='m3'><body>three</body></message>`);
  await c.settle();
  const after = Date.now();
  t.same(alice.conn.take(), [], 'stored, so no error to the sender');
  t.equal(await store(c).count(JULIET), 3);

  const juliet = await c.login(JULIET, 'balcony');
  t.same(juliet.conn.take(), [], 'nothing before initial presence');
  await becomeAvailable(c, juliet, 0);
  const got = juliet.conn.take();
  t.same(
    got.map((m) => [m.attrs.id, m.getChildText('body'), m.attrs.from]),
    [
      ['m1', 'one', `${ALICE}/phone`],
      ['m2', 'two', `${ALICE}/phone`],
      ['m3', 'three', `${ALICE}/phone`],
    ],
  );
  for (const m of got) {
    const delay = m.getChild('delay', NS.DELAY);
    t.equal(delay?.attrs.from, 'localhost', 'delay from the server domain');
    const stamp = Date.parse(String(delay?.attrs.stamp));
    t.ok(stamp >= before - 1 && stamp <= after + 1, 'stamp is when the server stored it');
    t.match(String(delay?.attrs.stamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'XEP-0082 UTC DateTime');
  }
  t.equal(await store(c).count(JULIET), 0, 'removed once delivered');

  await becomeAvailable(c, await c.login(JULIET, 'second'), 1);
  t.same(juliet.conn.take(), [], 'not delivered twice');
});

t.test('XEP-0160 §2: nothing is delivered to a negative-priority session; it stays for a later one', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  const shy = await c.login(JULIET, 'shy');
  await becomeAvailable(c, shy, -1);
  alice.send(`<message to='${JULIET}' type='chat'><body>for later</body></message>`);
  await c.settle();
  t.same(shy.conn.take(), [], 'RFC 6121 §8.5.2.1.1: negative priority never gets bare-JID messages');
  t.equal(await store(c).count(JULIET), 1, 'stored since no resource has non-negative priority');
  await becomeAvailable(c, shy, -1);
  t.same(shy.conn.take(), []);
  const phone = await c.login(JULIET, 'phone');
  await becomeAvailable(c, phone, 2);
  t.same(
    phone.conn.take().map((m) => m.getChildText('body')),
    ['for later'],
  );
  t.equal(await store(c).count(JULIET), 0);
});

t.test('a session that closed before delivery leaves the messages stored', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  alice.send(`<message to='${JULIET}' type='chat'><body>keep me</body></message>`);
  await c.settle();
  const juliet = await c.login(JULIET, 'balcony');
  const s = c.sessionOf(juliet);
  s.closed = true;
  await becomeAvailable(c, juliet, 0);
  t.same(juliet.conn.take(), []);
  t.equal(await store(c).count(JULIET), 1, 'only messages handed to the session are removed');
});

t.test('storage hints: standalone chat states are dropped, <no-store/> bounces, <store/> forces storage', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  alice.send(`<message to='${JULIET}' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/><thread>t1</thread></message>`);
  await c.settle();
  t.same(alice.conn.take(), [], 'XEP-0085 §5.6: a chat state is neither stored nor answered');
  t.equal(await store(c).count(JULIET), 0);

  alice.send(`<message to='${JULIET}' type='chat' id='ns'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>`);
  await c.settle();
  const [err] = alice.conn.take();
  t.equal(err?.attrs.id, 'ns');
  t.equal(errorCondition(err), 'service-unavailable', 'XEP-0334 no-store: not stored, so the sender learns it');
  t.equal(await store(c).count(JULIET), 0);

  alice.send(
    `<message to='${JULIET}' type='chat'><gone xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>`,
  );
  alice.send(`<message to='${JULIET}' type='chat'><received xmlns='urn:xmpp:receipts' id='x'/></message>`);
  await c.settle();
  t.same(alice.conn.take(), []);
  t.equal(await store(c).count(JULIET), 2, 'store hint and receipts are kept');

  alice.send(`<message to='${JULIET}' type='headline'><body>news</body></message>`);
  await c.settle();
  t.equal(await store(c).count(JULIET), 2, 'XEP-0160 §3: headlines are not stored');
});

t.test('XEP-0160 §2 step 3: a full queue answers service-unavailable', async (t) => {
  const c = await cluster(t, { offline: { maxPerUser: 2 } });
  const alice = await c.login(ALICE, 'phone');
  for (const id of ['a', 'b', 'c']) alice.send(`<message to='${JULIET}' type='chat' id='${id}'><body>${id}</body></message>`);
  await c.settle();
  const errors = alice.conn.take();
  t.equal(errors.length, 1);
  t.equal(errors[0]?.attrs.id, 'c');
  t.equal(errorCondition(errors[0]), 'service-unavailable');
  t.same(
    (await store(c).list(JULIET)).map((m) => parseElement(m.xml).attrs.id),
    ['a', 'b'],
  );
});

t.test('maxPerUser 0 disables storage: the router bounces', async (t) => {
  const c = await cluster(t, { offline: { maxPerUser: 0 } });
  const alice = await c.login(ALICE, 'phone');
  alice.send(`<message to='${JULIET}' type='chat' id='z'><body>x</body></message>`);
  await c.settle();
  t.equal(errorCondition(alice.conn.take()[0]), 'service-unavailable');
  t.equal(await store(c).count(JULIET), 0);
});

t.test('storageDecision', async (t) => {
  const d = (x: string) => storageDecision(parseElement(x));
  t.equal(d(`<message><body>hi</body></message>`), 'store');
  t.equal(d(`<message type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/><body>hi</body></message>`), 'store');
  t.equal(d(`<message type='chat'><paused xmlns='http://jabber.org/protocol/chatstates'/></message>`), 'drop');
  t.equal(d(`<message type='chat'/>`), 'drop');
  t.equal(d(`<message type='chat'><body>x</body><no-store xmlns='urn:xmpp:hints'/><store xmlns='urn:xmpp:hints'/></message>`), 'refuse');
  t.equal(d(`<message type='groupchat'><body>x</body></message>`), 'refuse');
  t.equal(d(`<message type='headline'><body>x</body></message>`), 'refuse');
});
