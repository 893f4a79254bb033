// XEP-0191 Blocking Command: list/block/unblock/unblock-all with pushes, presence on change, and
// enforcement in both directions. Juliet (shard 0) blocks contacts homed on shard 1.
import t, { type Test } from 'tap';
import { BlockList, normalizeItem } from '../../../src/modules/blocking/block-list.ts';
import blocking from '../../../src/modules/blocking/index.ts';
import messaging from '../../../src/modules/messaging/index.ts';
import { defineModule } from '../../../src/router/module.ts';
import type { SessionRecord } from '../../../src/shard/session-table.ts';
import { StanzaError } from '../../../src/xmpp/errors.ts';
import { parseJid } from '../../../src/xmpp/jid.ts';
import { NS } from '../../../src/xmpp/ns.ts';
import { parseElement } from '../../../src/xmpp/stream-parser.ts';
import type { Element } from '../../../src/xmpp/xml.ts';
import { createTestCluster, type TestClient, type TestCluster } from '../../helpers/test-shard.ts';

const JULIET = 'juliet@localhost'; // the blocking user, shard 0
const ALICE = 'alice@localhost'; // blocked contact, shard 1
const BOB = 'bob@localhost'; // shard 1

interface Seen {
  to: string;
  stanza: Element;
}

/** Records presence arriving at home shards (there is no presence module in these tests). */
function presenceSpy(seen: Seen[]) {
  return defineModule({
    name: 'presence-spy',
    setup(ctx) {
      ctx.hooks.on('presence:inbound', ({ stanza, to }) => {
        seen.push({ to: `${to.local}@${to.domain}${to.resource ? `/${to.resource}` : ''}`, stanza });
        return 'handled';
      });
    },
  });
}

async function cluster(t: Test, seen: Seen[] = []): Promise<TestCluster> {
  const c = await createTestCluster({ modules: [messaging, blocking, presenceSpy(seen)], shards: 2 });
  t.teardown(() => c.stop());
  await c.createAccounts(...[JULIET, ALICE, BOB]);
  return c;
}

function available(c: TestCluster, client: TestClient, presence = '<presence/>'): SessionRecord {
  const s = c.sessionOf(client);
  s.available = true;
  s.priority = 0;
  s.presence = parseElement(presence);
  return s;
}

/** Sends and returns everything the sender received afterwards. */
async function exchange(c: TestCluster, client: TestClient, text: string): Promise<Element[]> {
  client.send(text);
  await c.settle();
  return client.conn.take();
}

function errorOf(el: Element | undefined): { condition: string | undefined; app: string | undefined; type: string | undefined } {
  const err = el?.getChild('error');
  const children = err?.getChildElements() ?? [];
  return {
    type: err?.attrs.type,
    condition: children.find((e) => e.attrs.xmlns === NS.STANZAS)?.name,
    app: children.find((e) => e.attrs.xmlns === NS.BLOCKING_ERRORS)?.name,
  };
}

const items = (el: Element | undefined, name: string) =>
  el
    ?.getChild(name, NS.BLOCKING)
    ?.getChildren('item')
    .map((i) => i.attrs.jid);
const blockIq = (jids: string[], id = 'b1') =>
  `<iq type='set' id='${id}'><block xmlns='${NS.BLOCKING}'>${jids.map((j) => `<item jid='${j}'/>`).join('')}</block></iq>`;
const unblockIq = (jids: string[], id = 'u1') =>
  `<iq type='set' id='${id}'><unblock xmlns='${NS.BLOCKING}'>${jids.map((j) => `<item jid='${j}'/>`).join('')}</unblock></iq>`;
const getList = `<iq type='get' id='l1'><blocklist xmlns='${NS.BLOCKING}'/></iq>`;

t.test('disco and homes', async (t) => {
  const c = await cluster(t);
  t.not(c.placement.shardOf(JULIET), c.placement.shardOf(ALICE));
  t.ok(c.shards[0]?.registry.discoFeatures('server').includes(NS.BLOCKING), 'XEP-0191 §3.1: advertised by the server');
  t.ok(c.shards[0]?.registry.discoFeatures('account').includes(NS.BLOCKING));
});

t.test('get, block with pushes to interested resources, get again', async (t) => {
  const c = await cluster(t);
  const a = await c.login(JULIET, 'a');
  const b = await c.login(JULIET, 'b'); // never asks for the list: gets no pushes
  const [empty] = await exchange(c, a, getList);
  t.equal(empty?.attrs.type, 'result');
  t.same(items(empty, 'blocklist'), [], 'XEP-0191 §3.2: an empty <blocklist/>');

  const got = await exchange(c, a, blockIq(['Alice@LOCALHOST', 'bob@localhost/phone']));
  const push = got.find((e) => e.attrs.type === 'set');
  const result = got.find((e) => e.attrs.type === 'result');
  t.equal(result?.attrs.id, 'b1');
  t.equal(push?.attrs.to, `${JULIET}/a`);
  t.same(items(push, 'block'), [ALICE, 'bob@localhost/phone'], 'pushed items, normalised');
  t.same(b.conn.take(), [], 'no push to a resource that never requested the list');
  t.same(await c.stores[0]?.blocks.list(JULIET), [ALICE, 'bob@localhost/phone']);

  const [list] = await exchange(c, a, getList);
  t.same(items(list, 'blocklist'), [ALICE, 'bob@localhost/phone']);
  const third = await c.login(JULIET, 'c');
  const [fromThird] = await exchange(c, third, getList);
  t.same(items(fromThird, 'blocklist'), [ALICE, 'bob@localhost/phone'], 'the same list for every session');
});

t.test('bad requests', async (t) => {
  const c = await cluster(t);
  const a = await c.login(JULIET, 'a');
  const [noItems] = await exchange(c, a, blockIq([]));
  t.same(errorOf(noItems), { type: 'modify', condition: 'bad-request', app: undefined }, 'XEP-0191 §3.3: <block/> needs an item');
  const [bad] = await exchange(c, a, blockIq(['@localhost']));
  t.equal(errorOf(bad).condition, 'jid-malformed');
  const [noJid] = await exchange(c, a, `<iq type='set' id='x'><block xmlns='${NS.BLOCKING}'><item/></block></iq>`);
  t.equal(errorOf(noJid).condition, 'jid-malformed');
  t.same(await c.stores[0]?.blocks.list(JULIET), [], 'nothing stored');
  const alice = await c.login(ALICE, 'phone');
  const [foreign] = await exchange(c, alice, `<iq type='get' id='f' to='${JULIET}'><blocklist xmlns='${NS.BLOCKING}'/></iq>`);
  t.equal(errorOf(foreign).condition, 'forbidden', "nobody reads another user's block list");
});

t.test('inbound enforcement: messages and iqs bounce service-unavailable, presence vanishes', async (t) => {
  const seen: Seen[] = [];
  const c = await cluster(t, seen);
  const juliet = await c.login(JULIET, 'a');
  const alice = await c.login(ALICE, 'phone');
  available(c, juliet);
  await exchange(c, juliet, blockIq([ALICE]));

  const [msgErr] = await exchange(c, alice, `<message to='${JULIET}' type='chat' id='m1'><body>hi</body></message>`);
  t.equal(msgErr?.attrs.from, JULIET);
  t.equal(errorOf(msgErr).condition, 'service-unavailable', 'XEP-0191 §3.3: messages get service-unavailable');
  const [fullErr] = await exchange(c, alice, `<message to='${JULIET}/a' type='chat' id='m2'><body>hi</body></message>`);
  t.equal(errorOf(fullErr).condition, 'service-unavailable', 'also to a full JID');
  t.same(
    await exchange(c, alice, `<message to='${JULIET}/a' type='error'><error type='cancel'/></message>`),
    [],
    'errors are not answered',
  );

  const [iqErr] = await exchange(c, alice, `<iq to='${JULIET}/a' type='get' id='q1'><ping xmlns='urn:xmpp:ping'/></iq>`);
  t.equal(iqErr?.attrs.id, 'q1');
  t.equal(errorOf(iqErr).condition, 'service-unavailable', 'XEP-0191 §3.3: iq get/set MUST get an error');
  t.same(await exchange(c, alice, `<iq to='${JULIET}/a' type='result' id='q2'/>`), [], 'iq results are dropped silently');

  t.same(await exchange(c, alice, `<presence to='${JULIET}' type='subscribe'/>`), [], 'presence: no answer');
  t.same(await exchange(c, alice, `<presence to='${JULIET}/a'/>`), []);
  t.same(
    seen.filter((s) => s.to.startsWith(JULIET)),
    [],
    'and no presence reached the presence handlers',
  );
  t.same(juliet.conn.take(), [], 'Juliet received nothing from Alice');

  // An iq for the bare JID goes through 'iq:inbound-bare' (fired by the router before account handlers).
  const home = c.shards[c.placement.shardOf(JULIET)];
  const bareIq = parseElement(`<iq from='${ALICE}/phone' to='${JULIET}' type='get' id='v'><vCard xmlns='vcard-temp'/></iq>`);
  await t.rejects(Promise.resolve(home?.registry.hooks.fire('iq:inbound-bare', { stanza: bareIq, to: parseJid(JULIET) })), StanzaError);
  const bareResult = parseElement(`<iq from='${ALICE}/phone' to='${JULIET}' type='result' id='v'/>`);
  t.equal(await home?.registry.hooks.fire('iq:inbound-bare', { stanza: bareResult, to: parseJid(JULIET) }), 'handled');

  // Others still get through, and a full-JID item blocks only that resource.
  const bob = await c.login(BOB, 'laptop');
  t.same(await exchange(c, bob, `<message to='${JULIET}/a' type='chat'><body>from bob</body></message>`), []);
  t.same(
    juliet.conn.take().map((m) => m.getChildText('body')),
    ['from bob'],
  );
  await exchange(c, juliet, blockIq(['bob@localhost/phone'], 'b2'));
  const bobPhone = await c.login(BOB, 'phone');
  t.equal(
    errorOf((await exchange(c, bobPhone, `<message to='${JULIET}/a' type='chat'><body>x</body></message>`))[0]).condition,
    'service-unavailable',
  );
  t.same(await exchange(c, bob, `<message to='${JULIET}/a' type='chat'><body>laptop ok</body></message>`), []);
  t.same(
    juliet.conn.take().map((m) => m.getChildText('body')),
    ['laptop ok'],
  );
});

t.test('outbound enforcement: not-acceptable with <blocked/>, errors and results dropped', async (t) => {
  const c = await cluster(t);
  const juliet = await c.login(JULIET, 'a');
  const alice = await c.login(ALICE, 'phone');
  await exchange(c, juliet, blockIq([ALICE]));
  juliet.conn.take();

  const [err] = await exchange(c, juliet, `<message to='${ALICE}' type='chat' id='o1'><body>Can you hear me now?</body></message>`);
  t.equal(err?.attrs.type, 'error');
  t.equal(err?.attrs.id, 'o1');
  t.equal(err?.attrs.from, ALICE, 'the error comes from the blocked JID');
  t.equal(err?.attrs.to, `${JULIET}/a`);
  t.same(errorOf(err), { type: 'cancel', condition: 'not-acceptable', app: 'blocked' }, 'XEP-0191 §3.3');
  t.equal(err?.getChildText('body'), 'Can you hear me now?');

  const [iqErr] = await exchange(c, juliet, `<iq to='${ALICE}/phone' type='get' id='o2'><ping xmlns='urn:xmpp:ping'/></iq>`);
  t.same(errorOf(iqErr), { type: 'cancel', condition: 'not-acceptable', app: 'blocked' });
  const [presErr] = await exchange(c, juliet, `<presence to='${ALICE}/phone'/>`);
  t.equal(errorOf(presErr).app, 'blocked', 'directed presence too');
  t.same(await exchange(c, juliet, `<iq to='${ALICE}/phone' type='result' id='o3'/>`), [], 'iq results are dropped');
  t.same(await exchange(c, juliet, `<message to='${ALICE}' type='error'><error type='cancel'/></message>`), [], 'errors are dropped');
  t.same(alice.conn.take(), [], 'nothing was routed to Alice');
  t.same(
    await exchange(c, juliet, `<iq type='get' id='own'><blocklist xmlns='${NS.BLOCKING}'/></iq>`).then((r) => r[0]?.attrs.type),
    'result',
  );
});

t.test('presence on block (unavailable) and on unblock (current presence), only to subscribed or directed contacts', async (t) => {
  const seen: Seen[] = [];
  const c = await cluster(t, seen);
  const roster = c.stores[0]?.roster;
  const item = { name: null, askOut: false, pendingIn: false, approved: false, groups: [] };
  await roster?.put(JULIET, { ...item, contact: ALICE, subscription: 'from' });
  await roster?.put(JULIET, { ...item, contact: BOB, subscription: 'to' }); // Bob may not see Juliet's presence
  const a = await c.login(JULIET, 'a');
  const idle = await c.login(JULIET, 'idle'); // connected, no presence: sends nothing
  available(c, a, `<presence><show>chat</show></presence>`).directedTo.add('carol@localhost/room');
  t.ok(idle);

  await exchange(c, a, blockIq([ALICE, BOB, 'carol@localhost']));
  const unavailable = seen.filter((s) => s.stanza.attrs.type === 'unavailable');
  t.same(
    unavailable.map((s) => [s.stanza.attrs.from, s.stanza.attrs.to]).sort(),
    [
      [`${JULIET}/a`, ALICE],
      [`${JULIET}/a`, 'carol@localhost/room'],
    ],
    'XEP-0191 §3.3: unavailable to the subscribed contact and to the directed-presence recipient',
  );
  seen.length = 0;

  const got = await exchange(c, a, unblockIq([ALICE, BOB]));
  t.equal(got.find((e) => e.attrs.type === 'result')?.attrs.id, 'u1');
  t.same(
    seen.map((s) => [s.stanza.attrs.from, s.stanza.attrs.to, s.stanza.getChildText('show')]),
    [[`${JULIET}/a`, ALICE, 'chat']],
    'XEP-0191 §3.4: current presence to the unblocked subscribed contact',
  );
  t.same(await c.stores[0]?.blocks.list(JULIET), ['carol@localhost']);
});

t.test('unblock items and unblock all, with pushes; communication resumes', async (t) => {
  const c = await cluster(t);
  const a = await c.login(JULIET, 'a');
  const b = await c.login(JULIET, 'b');
  await exchange(c, a, getList);
  await exchange(c, b, getList);
  await exchange(c, a, blockIq([ALICE, BOB, 'example.org']));
  b.conn.take();

  const got = await exchange(c, a, unblockIq([BOB]));
  t.same(
    items(
      got.find((e) => e.attrs.type === 'set'),
      'unblock',
    ),
    [BOB],
  );
  t.same(items(b.conn.take()[0], 'unblock'), [BOB], 'every interested resource gets the push');
  t.same(await c.stores[0]?.blocks.list(JULIET), [ALICE, 'example.org']);

  const all = await exchange(c, a, `<iq type='set' id='all'><unblock xmlns='${NS.BLOCKING}'/></iq>`);
  t.equal(all.find((e) => e.attrs.type === 'result')?.attrs.id, 'all');
  const [pushB] = b.conn.take();
  t.equal(pushB?.attrs.type, 'set');
  t.same(items(pushB, 'unblock'), [], 'XEP-0191 §3.5: an empty <unblock/> push');
  t.same(await c.stores[0]?.blocks.list(JULIET), []);

  const alice = await c.login(ALICE, 'phone');
  t.same(await exchange(c, alice, `<message to='${JULIET}/a' type='chat'><body>back</body></message>`), []);
  t.same(
    a.conn.take().map((m) => m.getChildText('body')),
    ['back'],
  );
});

t.test('BlockList matching (XEP-0191 JID Matching)', async (t) => {
  const list = new BlockList(['user@example.com/res', 'other@example.com', 'example.net/res', 'example.org'].map(normalizeItem));
  const m = (j: string) => list.matches(parseJid(j));
  t.ok(m('user@example.com/res'), '1: only that resource');
  t.notOk(m('user@example.com/else'));
  t.notOk(m('user@example.com'));
  t.ok(m('other@example.com'), '2: any resource');
  t.ok(m('Other@Example.com/x'), 'after case folding');
  t.ok(m('example.net/res'), '3: the domain resource');
  t.notOk(m('example.net'));
  t.notOk(m('user@example.net/res'), '3 does not cover users of the domain');
  t.ok(m('example.org'), '4: the domain itself');
  t.ok(m('anyone@example.org/x'), '4: its users');
  t.ok(m('muc.example.org'), '4: its subdomains');
  t.ok(m('room@muc.example.org/nick'));
  t.notOk(m('example.org.evil'));
  t.notOk(m('notexample.org'));
  t.same(new BlockList().add(['a', 'b', 'a']), ['a', 'b']);
  const l2 = new BlockList(['a', 'b']);
  t.same(l2.remove(['b', 'c']), ['b']);
  t.same(l2.clear(), ['a']);
  t.equal(l2.size, 0);
});
