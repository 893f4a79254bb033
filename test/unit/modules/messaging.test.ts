// RFC 6121 §8.5 message delivery rules, across two shards (sender and recipient homed apart).
import t, { type Test } from 'tap';
import { AccountCache } from '../../../src/modules/messaging/account-cache.ts';
import { messageType, mostAvailable, nonNegativeAvailable } from '../../../src/modules/messaging/delivery-rules.ts';
import messaging from '../../../src/modules/messaging/index.ts';
import type { SessionRecord } from '../../../src/shard/session-table.ts';
import { NS } from '../../../src/xmpp/ns.ts';
import { type Element, xml } from '../../../src/xmpp/xml.ts';
import { createTestCluster, type TestClient, type TestCluster } from '../../helpers/test-shard.ts';

const ALICE = 'alice@localhost'; // sender, shard 1
const JULIET = 'juliet@localhost'; // recipient, shard 0
const ROMEO = 'romeo@localhost'; // has an account, never online (shard 0)

async function cluster(t: Test): Promise<TestCluster> {
  const c = await createTestCluster({ modules: [messaging], shards: 2 });
  t.teardown(() => c.stop());
  await c.createAccounts(...[ALICE, JULIET, ROMEO]);
  return c;
}

/** Stands in for the presence module: marks the session available with a priority. */
function available(c: TestCluster, client: TestClient, priority: number): void {
  const s = c.sessionOf(client);
  s.available = true;
  s.priority = priority;
}

function errorCondition(el: Element | undefined): string | undefined {
  return el
    ?.getChild('error')
    ?.getChildElements()
    .find((e) => e.attrs.xmlns === NS.STANZAS)?.name;
}

/** Juliet with resources a,b (prio 5), c (1), d (-1) and e (connected, no presence). */
async function julietResources(c: TestCluster) {
  const r = {
    a: await c.login(JULIET, 'a'),
    b: await c.login(JULIET, 'b'),
    c: await c.login(JULIET, 'c'),
    d: await c.login(JULIET, 'd'),
    e: await c.login(JULIET, 'e'),
  };
  available(c, r.a, 5);
  available(c, r.b, 5);
  available(c, r.c, 1);
  available(c, r.d, -1);
  return r;
}

/** What each of Juliet's resources received (body texts). */
function bodies(r: Record<string, TestClient>): Record<string, (string | null)[]> {
  const out: Record<string, (string | null)[]> = {};
  for (const [k, client] of Object.entries(r)) out[k] = client.conn.take().map((el) => el.getChildText('body'));
  return out;
}

t.test('sender and recipient are homed on different shards', async (t) => {
  const c = await cluster(t);
  t.not(c.placement.shardOf(ALICE), c.placement.shardOf(JULIET));
});

t.test('§8.5.2.1.1 chat/normal to the bare JID go to the highest non-negative priority resources', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  const r = await julietResources(c);
  for (const type of ['chat', 'normal', undefined, 'bogus']) {
    const attr = type ? ` type='${type}'` : '';
    alice.send(`<message to='${JULIET}'${attr}><body>${type}</body></message>`);
    await c.settle();
    const got = r.a.conn.take();
    t.equal(got.length, 1, `${type}: a gets it`);
    t.equal(got[0]?.attrs.to, JULIET, 'the to attribute is not rewritten');
    t.equal(got[0]?.attrs.from, `${ALICE}/phone`);
    t.same(bodies({ b: r.b, c: r.c, d: r.d, e: r.e }), { b: [String(type)], c: [], d: [], e: [] }, `${type}: only the tied top resources`);
    t.same(alice.conn.take(), [], 'no error to the sender');
  }
});

t.test('§8.5.2.1.1 negative priority and non-available resources get nothing; with none left, the message bounces', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  const d = await c.login(JULIET, 'd');
  const e = await c.login(JULIET, 'e'); // connected, never sent presence
  available(c, d, -1);
  alice.send(`<message to='${JULIET}' type='chat' id='m1'><body>hi</body></message>`);
  await c.settle();
  t.same(d.conn.take(), []);
  t.same(e.conn.take(), []);
  // No offline module loaded: the router answers service-unavailable (§8.5.2.2.1 option b).
  const [err] = alice.conn.take();
  t.equal(err?.attrs.type, 'error');
  t.equal(err?.attrs.id, 'm1');
  t.equal(err?.attrs.from, JULIET);
  t.equal(errorCondition(err), 'service-unavailable');
});

t.test('§8.5.2.1.1 headline goes to every non-negative resource, and is dropped silently otherwise', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  const r = await julietResources(c);
  alice.send(`<message to='${JULIET}' type='headline'><body>news</body></message>`);
  await c.settle();
  t.same(bodies(r), { a: ['news'], b: ['news'], c: ['news'], d: [], e: [] });
  alice.send(`<message to='${ROMEO}' type='headline'><body>news</body></message>`);
  await c.settle();
  t.same(alice.conn.take(), [], 'no error for a headline nobody could take');
});

t.test('§8.5.2 groupchat to the bare JID bounces, error is dropped', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  const r = await julietResources(c);
  alice.send(`<message to='${JULIET}' type='groupchat' id='g1'><body>all</body></message>`);
  await c.settle();
  t.same(bodies(r), { a: [], b: [], c: [], d: [], e: [] });
  const [err] = alice.conn.take();
  t.equal(err?.attrs.id, 'g1');
  t.equal(errorCondition(err), 'service-unavailable');
  alice.send(`<message to='${JULIET}' type='error' id='x1'><error type='cancel'><gone xmlns='${NS.STANZAS}'/></error></message>`);
  await c.settle();
  t.same(bodies(r), { a: [], b: [], c: [], d: [], e: [] }, 'error messages to the bare JID are ignored');
  t.same(alice.conn.take(), [], 'and never answered');
});

t.test('§8.5.3.1 a full JID reaches that resource whatever its type, priority or availability', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  const r = await julietResources(c);
  for (const [res, type] of [
    ['d', 'chat'],
    ['e', 'normal'],
    ['c', 'groupchat'],
    ['a', 'headline'],
    ['b', 'error'],
  ] as const) {
    alice.send(`<message to='${JULIET}/${res}' type='${type}'><body>${type}</body></message>`);
    await c.settle();
    const got = r[res].conn.take();
    t.equal(got.length, 1, `${type} to /${res}`);
    t.equal(got[0]?.attrs.to, `${JULIET}/${res}`);
  }
  t.same(bodies(r), { a: [], b: [], c: [], d: [], e: [] }, 'no copies elsewhere');
  t.same(alice.conn.take(), []);
});

t.test('§8.5.3.2.1 a full JID with no such resource', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  const r = await julietResources(c);
  // chat: as if sent to the bare JID.
  alice.send(`<message to='${JULIET}/gone' type='chat'><body>chat</body></message>`);
  await c.settle();
  t.same(bodies(r), { a: ['chat'], b: ['chat'], c: [], d: [], e: [] });
  t.same(alice.conn.take(), []);
  // normal and groupchat: service-unavailable; headline and error: silently dropped.
  for (const type of ['normal', 'groupchat']) {
    alice.send(`<message to='${JULIET}/gone' type='${type}' id='${type}'><body>x</body></message>`);
    await c.settle();
    const [err] = alice.conn.take();
    t.equal(err?.attrs.id, type);
    t.equal(err?.attrs.from, `${JULIET}/gone`);
    t.equal(errorCondition(err), 'service-unavailable', `${type} bounces`);
  }
  for (const type of ['headline', 'error']) {
    alice.send(`<message to='${JULIET}/gone' type='${type}'><body>x</body></message>`);
    await c.settle();
    t.same(alice.conn.take(), [], `${type} is dropped without an answer`);
  }
  t.same(bodies(r), { a: [], b: [], c: [], d: [], e: [] });
});

t.test('§8.5.1 no such user: service-unavailable for bare and full JIDs, errors ignored', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  for (const to of ['nobody@localhost', 'nobody@localhost/res', 'nobody@localhost']) {
    alice.send(`<message to='${to}' type='chat' id='n'><body>hello?</body></message>`);
    await c.settle();
    const [err] = alice.conn.take();
    t.equal(err?.attrs.from, to);
    t.equal(errorCondition(err), 'service-unavailable', `to ${to}`);
    t.equal(err?.getChildText('body'), 'hello?', 'the original payload is included');
  }
  alice.send(`<message to='nobody@localhost' type='error'><error type='cancel'><gone xmlns='${NS.STANZAS}'/></error></message>`);
  await c.settle();
  t.same(alice.conn.take(), []);
});

t.test('an existing account with no sessions falls through to offline handling (here: the router bounce)', async (t) => {
  const c = await cluster(t);
  const alice = await c.login(ALICE, 'phone');
  alice.send(`<message to='${ROMEO}' type='chat' id='r1'><body>are you there</body></message>`);
  await c.settle();
  const [err] = alice.conn.take();
  t.equal(err?.attrs.id, 'r1');
  t.equal(errorCondition(err), 'service-unavailable');
  // Groupchat is refused by the rules themselves, not by the fallback.
  alice.send(`<message to='${ROMEO}' type='groupchat' id='r2'><body>x</body></message>`);
  await c.settle();
  t.equal(errorCondition(alice.conn.take()[0]), 'service-unavailable');
});

t.test('delivery-rules helpers', async (t) => {
  t.equal(messageType(xml('message')), 'normal');
  t.equal(messageType(xml('message', { type: 'chat' })), 'chat');
  t.equal(messageType(xml('message', { type: 'weird' })), 'normal', 'RFC 6121 §5.2.2: unknown types are normal');
  const mk = (priority: number, available = true, closed = false) => ({ priority, available, closed }) as SessionRecord;
  const sessions = [mk(3), mk(-1), mk(3), mk(0), mk(9, false), mk(9, true, true)];
  t.same(
    nonNegativeAvailable(sessions).map((s) => s.priority),
    [3, 3, 0],
  );
  t.same(
    mostAvailable(nonNegativeAvailable(sessions)).map((s) => s.priority),
    [3, 3],
  );
  t.same(mostAvailable([]), []);
});

t.test('AccountCache forgets after its TTL and bounds its size', async (t) => {
  const cache = new AccountCache({ positiveTtlMs: 100, negativeTtlMs: 10, maxEntries: 2 });
  cache.set('a@x', true, 0);
  cache.set('b@x', false, 0);
  t.equal(cache.get('a@x', 50), true);
  t.equal(cache.get('b@x', 5), false);
  t.equal(cache.get('b@x', 10), undefined, 'negative answers expire sooner');
  t.equal(cache.get('a@x', 100), undefined);
  cache.set('a@x', true, 0);
  cache.set('b@x', true, 0);
  cache.set('c@x', true, 0);
  t.equal(cache.get('a@x', 1), undefined, 'the oldest entry made room');
  t.equal(cache.get('c@x', 1), true);
});
