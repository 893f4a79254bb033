// XEP-0280 Message Carbons across two shards: the sender (alice) and the carbons user (juliet) are
// homed apart, so sent copies are made on one shard and received copies on the other.
import t, { type Test } from 'tap';
import blocking from '../../../src/modules/blocking/index.ts';
import carbons from '../../../src/modules/carbons/index.ts';
import { carbonDecision } from '../../../src/modules/carbons/eligibility.ts';
import disco from '../../../src/modules/disco/index.ts';
import messaging from '../../../src/modules/messaging/index.ts';
import { NS } from '../../../src/xmpp/ns.ts';
import { parseElement } from '../../../src/xmpp/stream-parser.ts';
import type { Element } from '../../../src/xmpp/xml.ts';
import { createTestCluster, type TestClient, type TestCluster } from '../../helpers/test-shard.ts';

const CARBONS = 'urn:xmpp:carbons:2';
const FORWARD = 'urn:xmpp:forward:0';
const ALICE = 'alice@localhost'; // the other party, shard 1
const JULIET = 'juliet@localhost'; // the carbons user, shard 0

async function cluster(t: Test): Promise<TestCluster> {
  const c = await createTestCluster({ modules: [disco, messaging, blocking, carbons], shards: 2 });
  t.teardown(() => c.stop());
  await c.createAccounts(ALICE, JULIET);
  return c;
}

async function enable(c: TestCluster, client: TestClient, what: 'enable' | 'disable' = 'enable'): Promise<Element | undefined> {
  client.send(`<iq type='set' id='${what}1'><${what} xmlns='${CARBONS}'/></iq>`);
  await c.settle();
  return client.conn.take()[0];
}

/** Stands in for the presence module: the session is available with this priority. */
function online(c: TestCluster, client: TestClient, priority: number): TestClient {
  const s = c.sessionOf(client);
  s.available = true;
  s.priority = priority;
  return client;
}

/** Juliet: a (prio 5, carbons), b (prio 1, carbons, connection on the other shard), c (prio 1, no carbons). */
async function juliet(c: TestCluster) {
  const otherShard = 1 - c.placement.shardOf(JULIET);
  const r = {
    a: online(c, await c.login(JULIET, 'a'), 5),
    b: online(c, await c.login(JULIET, 'b', otherShard), 1),
    c: online(c, await c.login(JULIET, 'c'), 1),
  };
  await enable(c, r.a);
  await enable(c, r.b);
  return r;
}

/** The message inside a carbon, after checking the wrapper's shape (§7/§8, XEP-0297). */
function unwrap(t: Test, el: Element | undefined, direction: 'sent' | 'received', to: string, type?: string): Element | undefined {
  t.equal(el?.name, 'message', 'a message');
  t.equal(el?.attrs.from, JULIET, "from the user's bare JID");
  t.equal(el?.attrs.to, to, "to the copy's full JID");
  t.equal(el?.attrs.type, type, 'same type as the original');
  const wrapper = el?.getChild(direction, CARBONS);
  t.ok(wrapper, `<${direction}/>`);
  const inner = wrapper?.getChild('forwarded', FORWARD)?.getChild('message');
  t.equal(inner?.attrs.xmlns, NS.CLIENT, "the original carries xmlns='jabber:client'");
  return inner;
}

function names(clients: Record<string, TestClient>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(clients))
    out[k] = v.conn.take().map((el) => (el.getChild('sent', CARBONS) ? 'sent' : el.getChild('received', CARBONS) ? 'received' : el.name));
  return out;
}

t.test('the users are homed on different shards', async (t) => {
  const c = await cluster(t);
  t.not(c.placement.shardOf(ALICE), c.placement.shardOf(JULIET));
});

t.test('§3 disco, §4/§5 enable and disable', async (t) => {
  const c = await cluster(t);
  const a = await c.login(JULIET, 'a');
  a.send(`<iq type='get' id='d1' to='localhost'><query xmlns='${NS.DISCO_INFO}'/></iq>`);
  await c.settle();
  const features = a.conn
    .take()[0]
    ?.getChild('query', NS.DISCO_INFO)
    ?.getChildren('feature')
    .map((f) => f.attrs.var);
  t.ok(features?.includes(CARBONS), 'the server advertises urn:xmpp:carbons:2');
  t.ok(features?.includes('urn:xmpp:carbons:rules:0'), 'and the §6 rules');

  for (const what of ['enable', 'enable', 'disable', 'disable'] as const) {
    const res = await enable(c, a, what);
    t.equal(res?.attrs.type, 'result', `${what}: result (§10.1: repeats are not errors)`);
    t.equal(res?.attrs.id, `${what}1`);
    t.same(res?.children, [], 'empty');
  }

  // §4.1/§5.1: another account may not switch juliet's carbons (cross-shard iq to her bare JID).
  const alice = await c.login(ALICE, 'phone');
  alice.send(`<iq type='set' id='x1' to='${JULIET}'><enable xmlns='${CARBONS}'/></iq>`);
  await c.settle();
  const err = alice.conn.take()[0];
  t.equal(err?.attrs.type, 'error');
  t.equal(err?.attrs.id, 'x1');
  t.ok(err?.getChild('error')?.getChild('not-allowed', NS.STANZAS), 'not-allowed');
});

t.test('§7 received copies go to enabled resources that did not get the original', async (t) => {
  const c = await cluster(t);
  const alice = online(c, await c.login(ALICE, 'phone'), 0);
  const r = await juliet(c);
  alice.send(`<message to='${JULIET}' type='chat' id='m1'><body>hi</body><thread>t1</thread></message>`);
  await c.settle();
  const [original] = r.a.conn.take();
  t.equal(original?.getChildText('body'), 'hi', 'a (most available) gets the original');
  t.notOk(original?.getChild('received', CARBONS), 'not wrapped');
  const [copy, ...rest] = r.b.conn.take();
  t.same(rest, [], 'exactly one copy');
  const inner = unwrap(t, copy, 'received', `${JULIET}/b`, 'chat');
  t.equal(inner?.attrs.from, `${ALICE}/phone`);
  t.equal(inner?.attrs.to, JULIET);
  t.equal(inner?.attrs.id, 'm1');
  t.equal(inner?.getChildText('body'), 'hi');
  t.equal(inner?.getChildText('thread'), 't1');
  t.same(r.c.conn.take(), [], 'c has carbons off');

  // To a full JID: that resource gets the original, the other enabled one a copy.
  alice.send(`<message to='${JULIET}/b' type='chat'><body>to b</body></message>`);
  await c.settle();
  t.same(names(r), { a: ['received'], b: ['message'], c: [] });

  // After <disable/>, b gets nothing more.
  await enable(c, r.b, 'disable');
  alice.send(`<message to='${JULIET}' type='chat'><body>again</body></message>`);
  await c.settle();
  t.same(names(r), { a: ['message'], b: [], c: [] });
});

t.test('§8 sent copies go to the other enabled resources, whether or not the sender enabled them', async (t) => {
  const c = await cluster(t);
  const alice = online(c, await c.login(ALICE, 'phone'), 0);
  const r = await juliet(c);
  r.a.send(`<message to='${ALICE}' type='chat' id='s1'><body>from a</body></message>`);
  await c.settle();
  const [copy, ...rest] = r.b.conn.take();
  t.same(rest, []);
  const inner = unwrap(t, copy, 'sent', `${JULIET}/b`, 'chat');
  t.equal(inner?.attrs.from, `${JULIET}/a`, "the server-stamped sender's full JID");
  t.equal(inner?.attrs.to, ALICE);
  t.equal(inner?.getChildText('body'), 'from a');
  t.same(names({ a: r.a, c: r.c }), { a: [], c: [] }, 'not to the sender (§8), not to c (off)');
  t.equal(alice.conn.take()[0]?.getChildText('body'), 'from a', 'alice gets the original');

  r.c.send(`<message to='${ALICE}/phone'><body>from c</body></message>`);
  await c.settle();
  t.same(names(r), { a: ['sent'], b: ['sent'], c: [] }, 'c has carbons off but its messages are still copied');
});

t.test('§9 <private/> and XEP-0334 <no-copy/> exclude a message', async (t) => {
  const c = await cluster(t);
  const alice = online(c, await c.login(ALICE, 'phone'), 0);
  const r = await juliet(c);
  alice.send(`<message to='${JULIET}' type='chat'><body>secret</body><private xmlns='${CARBONS}'/></message>`);
  await c.settle();
  const [got] = r.a.conn.take();
  t.equal(got?.getChildText('body'), 'secret');
  t.notOk(got?.getChild('private', CARBONS), 'the receiving server strips <private/> (§9 SHOULD)');
  t.same(names({ b: r.b, c: r.c }), { b: [], c: [] }, 'no received copies');

  r.a.send(`<message to='${ALICE}' type='chat'><body>secret</body><private xmlns='${CARBONS}'/></message>`);
  await c.settle();
  t.same(names({ b: r.b }), { b: [] }, 'no sent copies');
  t.equal(alice.conn.take()[0]?.getChildText('body'), 'secret', 'delivered all the same');

  alice.send(`<message to='${JULIET}' type='chat'><body>x</body><no-copy xmlns='urn:xmpp:hints'/></message>`);
  r.a.send(`<message to='${ALICE}' type='chat'><body>y</body><no-copy xmlns='urn:xmpp:hints'/></message>`);
  await c.settle();
  const [hinted] = r.a.conn.take();
  t.ok(hinted?.getChild('no-copy', 'urn:xmpp:hints'), 'the hint is left in place');
  t.same(names({ b: r.b, c: r.c }), { b: [], c: [] }, 'no copies either way');
});

t.test('§6 ineligible messages are not copied; IM payloads without a body are', async (t) => {
  const c = await cluster(t);
  const alice = online(c, await c.login(ALICE, 'phone'), 0);
  const r = await juliet(c);
  const cases: [string, boolean][] = [
    [`<message to='${JULIET}/a' type='groupchat'><body>room</body></message>`, false],
    [`<message to='${JULIET}' type='headline'><body>news</body></message>`, false],
    [`<message to='${JULIET}/a' type='error'><error type='cancel'><gone xmlns='${NS.STANZAS}'/></error></message>`, false],
    [`<message to='${JULIET}/a' type='normal'><subject>no body</subject></message>`, false],
    [`<message to='${JULIET}/a'><body>typeless normal</body></message>`, true],
    [`<message to='${JULIET}/a'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`, true],
    [`<message to='${JULIET}/a'><received xmlns='urn:xmpp:receipts' id='m1'/></message>`, true],
    [`<message to='${JULIET}/a'><displayed xmlns='urn:xmpp:chat-markers:0' id='m1'/></message>`, true],
  ];
  for (const [stanza, copied] of cases) {
    alice.send(stanza);
    await c.settle();
    r.a.conn.take();
    r.c.conn.take();
    const copies = r.b.conn.take().filter((el) => el.getChild('received', CARBONS)); // b also gets headlines themselves
    t.equal(copies.length, copied ? 1 : 0, `${copied ? 'copied' : 'not copied'}: ${stanza}`);
    if (copied) t.equal(copies[0]?.attrs.type, parseElement(stanza).attrs.type, 'type kept (absent stays absent)');
  }
  // The same rules on the sending side.
  r.a.send(`<message to='${ALICE}' type='headline'><body>news</body></message>`);
  r.a.send(`<message to='${ALICE}'><subject>no body</subject></message>`);
  r.a.send(`<message to='${ALICE}' type='groupchat'><body>x</body></message>`);
  await c.settle();
  t.same(names({ b: r.b }), { b: [] }, 'no sent copies of headline, bodiless normal or groupchat');
});

t.test('no carbons of carbons; MUC private messages are not copied, mediated invitations are', async (t) => {
  const c = await cluster(t);
  const alice = online(c, await c.login(ALICE, 'phone'), 0);
  const r = await juliet(c);
  const wrapped = (dir: string) =>
    `<${dir} xmlns='${CARBONS}'><forwarded xmlns='${FORWARD}'><message><body>x</body></message></forwarded></${dir}>`;
  alice.send(`<message to='${JULIET}' type='chat'>${wrapped('received')}</message>`);
  r.a.send(`<message to='${ALICE}' type='chat'>${wrapped('sent')}</message>`);
  alice.send(`<message to='${JULIET}/a' type='chat'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`);
  await c.settle();
  t.same(names({ b: r.b, c: r.c }), { b: [], c: [] });
  const invite = `<x xmlns='http://jabber.org/protocol/muc#user'><invite from='${ALICE}'/></x>`;
  alice.send(`<message to='${JULIET}/a'>${invite}</message>`);
  await c.settle();
  t.same(names({ b: r.b }), { b: ['received'] }, 'a mediated invitation is copied (§6)');
});

t.test('a message to another resource of the same user: one copy per resource', async (t) => {
  const c = await cluster(t);
  const r = await juliet(c);
  const d = await c.login(JULIET, 'd');
  await enable(c, d);
  r.a.send(`<message to='${JULIET}/b' type='chat'><body>note to self</body></message>`);
  await c.settle();
  t.same(names({ ...r, d }), { a: [], b: ['message'], c: [], d: ['sent'] }, 'addressee: original; sender: nothing; others: <sent/>');
  // No 'to' (RFC 6120 §10.3.1: the sender's bare JID): a is the most available and gets it itself.
  r.a.send(`<message type='chat'><body>to my account</body></message>`);
  await c.settle();
  t.same(names({ ...r, d }), { a: ['message'], b: ['sent'], c: [], d: ['sent'] });
});

t.test("a message refused by blocking's Guard is not copied", async (t) => {
  const c = await cluster(t);
  online(c, await c.login(ALICE, 'phone'), 0);
  const r = await juliet(c);
  r.a.send(`<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='${ALICE}'/></block></iq>`);
  await c.settle();
  t.equal(r.a.conn.take()[0]?.attrs.type, 'result', 'alice blocked');
  r.b.conn.take();
  r.a.send(`<message to='${ALICE}' type='chat' id='nb'><body>blocked</body></message>`);
  await c.settle();
  const [err] = r.a.conn.take();
  t.equal(err?.attrs.type, 'error', 'the sender is told');
  t.same(names({ b: r.b }), { b: [] }, 'no sent copy');
});

t.test('carbonDecision (pure)', async (t) => {
  const d = (xml: string, dir: 'sent' | 'received' = 'received', full = true) => carbonDecision(parseElement(xml), dir, full);
  t.equal(d(`<message type='chat'/>`), 'copy', 'chat, even without a body (chat states)');
  t.equal(d(`<message type='chat'><private xmlns='${CARBONS}'/></message>`), 'private');
  t.equal(d(`<message type='chat'><no-copy xmlns='urn:xmpp:hints'/></message>`), 'no-copy');
  t.equal(d(`<message type='chat'><sent xmlns='${CARBONS}'/></message>`), 'carbon');
  t.equal(d(`<message type='groupchat'><body>x</body></message>`), 'groupchat');
  t.equal(d(`<message type='bogus'><body>x</body></message>`), 'copy', 'an unknown type is normal');
  t.equal(d(`<message><x xmlns='jabber:x:conference' jid='room@muc'/></message>`), 'copy', 'XEP-0249 invitation');
  const pm = `<message type='chat'><body>x</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`;
  t.equal(d(pm, 'received', true), 'muc-pm', 'a received MUC PM');
  t.equal(d(pm, 'sent', true), 'copy', 'a sent MUC PM is copied (§6)');
  t.equal(d(pm, 'received', false), 'copy', 'to the bare JID it is not a PM');
});
