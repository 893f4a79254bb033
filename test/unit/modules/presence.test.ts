// RFC 6121 §3 subscriptions and §4 presence across two shards: alice (shard 1) and carol (shard 0) are
// homed apart, dave (shard 0) is a stranger to both.
import t, { type Test } from 'tap';
import { parsePriority } from '../../../src/modules/presence/codec.ts';
import presence from '../../../src/modules/presence/index.ts';
import roster from '../../../src/modules/roster/index.ts';
import { defineModule, type ModuleContext } from '../../../src/router/module.ts';
import type { RosterItem, Subscription } from '../../../src/storage/ports.ts';
import { type Element, xml } from '../../../src/xmpp/xml.ts';
import { createTestCluster, type TestClient, type TestCluster } from '../../helpers/test-shard.ts';

const ALICE = 'alice@localhost';
const CAROL = 'carol@localhost';
const DAVE = 'dave@localhost';
const ROSTER = 'jabber:iq:roster';

/** Records 'session:available' / 'session:unavailable' as the offline module would see them. */
function recorder(seen: string[]) {
  return defineModule({
    name: 'recorder',
    setup(ctx: ModuleContext) {
      ctx.hooks.on('session:available', ({ session }) => void seen.push(`available ${session.full}`));
      ctx.hooks.on('session:unavailable', ({ session }) => void seen.push(`unavailable ${session.full}`));
    },
  });
}

async function cluster(t: Test, seen: string[] = []): Promise<TestCluster> {
  const c = await createTestCluster({ modules: [roster, presence, recorder(seen)], shards: 2 });
  t.teardown(() => c.stop());
  t.not(c.placement.shardOf(ALICE), c.placement.shardOf(CAROL), 'alice and carol live on different shards');
  await c.createAccounts(...[ALICE, CAROL, DAVE]);
  return c;
}

/** Login, roster get, initial presence: an interested and available resource. Clears what arrived. */
async function online(c: TestCluster, bare: string, resource: string, presenceXml = '<presence/>'): Promise<TestClient> {
  const client = await c.login(bare, resource);
  client.send(`<iq type='get' id='init'><query xmlns='${ROSTER}'/></iq>`);
  client.send(presenceXml);
  await c.settle();
  client.conn.take();
  return client;
}

async function send(c: TestCluster, client: TestClient, xmlText: string): Promise<void> {
  client.send(xmlText);
  await c.settle();
}

/** The connection drops: the home shard unbinds the session (fires 'session:unbound'). */
async function disconnect(c: TestCluster, client: TestClient): Promise<void> {
  c.shards[client.conn.home as number]?.home.connectionEnded(client.shard.id, client.conn.id, false);
  await c.settle();
}

async function setSubscription(c: TestCluster, user: string, contact: string, subscription: Subscription): Promise<void> {
  const item: RosterItem = { contact, name: null, subscription, askOut: false, pendingIn: false, approved: false, groups: [] };
  await c.stores[0]?.roster.put(user, item);
}

async function item(c: TestCluster, user: string, contact: string): Promise<RosterItem | undefined> {
  return c.stores[0]?.roster.get(user, contact);
}

/** [type ('' for available), from] of each presence among `els`. */
function presences(els: Element[]): [string, string][] {
  return els.filter((e) => e.name === 'presence').map((e) => [String(e.attrs.type ?? ''), String(e.attrs.from)]);
}

/** presences(els), order-independent (deliveries from different shards may interleave). */
function presenceSet(els: Element[]): string[] {
  return presences(els)
    .map(([type, from]) => `${type || 'available'} ${from}`)
    .sort();
}

function pushes(els: Element[]): { ver: string; item: Element }[] {
  return els
    .filter((e) => e.name === 'iq' && e.attrs.type === 'set')
    .map((e) => {
      const query = e.getChild('query', ROSTER) as Element;
      return { ver: String(query.attrs.ver), item: query.getChild('item') as Element };
    });
}

function pushAttrs(els: Element[]): Record<string, string>[] {
  return pushes(els).map((p) => ({ ver: p.ver, ...(p.item.attrs as Record<string, string>) }));
}

t.test('the subscription handshake alice → carol, step by step', async (t) => {
  const c = await cluster(t);
  const alice = await online(c, ALICE, 'phone');
  const carol = await online(c, CAROL, 'pc');

  // §3.1.2: alice asks. Her item gets ask='subscribe'; carol's client sees the request from alice's bare JID.
  await send(c, alice, `<presence to='${CAROL}/pc' type='subscribe' id='sub1'><status>hi</status></presence>`);
  t.same(pushAttrs(alice.conn.take()), [{ ver: '1', jid: CAROL, subscription: 'none', ask: 'subscribe' }]);
  const atCarol = carol.conn.take();
  const request = atCarol.find((e) => e.name === 'presence');
  t.equal(request?.attrs.type, 'subscribe');
  t.equal(request?.attrs.from, ALICE, 'stamped with the bare JID (§3.1.2)');
  t.equal(request?.attrs.to, CAROL, 'addressed to the bare JID');
  t.equal(request?.getChildText('status'), 'hi', 'children travel with the request');
  t.same(pushes(atCarol), [], 'a pending request creates no visible roster item (§3.1.3)');
  t.match(await item(c, CAROL, ALICE), { subscription: 'none', pendingIn: true });
  t.match(await item(c, ALICE, CAROL), { subscription: 'none', askOut: true });

  carol.send(`<iq type='get' id='g'><query xmlns='${ROSTER}'/></iq>`);
  await c.settle();
  const listed = carol.conn.take().find((e) => e.attrs.id === 'g');
  t.same(listed?.getChild('query', ROSTER)?.getChildren('item'), [], 'the placeholder is not listed');

  // §3.1.5: carol approves. Her item becomes From; alice's becomes To; alice sees carol online at once.
  await send(c, carol, `<presence to='${ALICE}' type='subscribed'/>`);
  t.same(pushAttrs(carol.conn.take()), [{ ver: '2', jid: ALICE, subscription: 'from' }]);
  const atAlice = alice.conn.take();
  t.same(pushAttrs(atAlice), [{ ver: '2', jid: CAROL, subscription: 'to' }]);
  t.same(
    presences(atAlice),
    [
      ['subscribed', CAROL],
      ['', carol.full],
    ],
    "the approval, then carol's presence, in that order",
  );
  t.match(await item(c, ALICE, CAROL), { subscription: 'to', askOut: false });
  t.match(await item(c, CAROL, ALICE), { subscription: 'from', pendingIn: false });

  // Broadcast now reaches alice (carol's subscriber), not the other way round.
  await send(c, carol, `<presence><show>away</show></presence>`);
  t.same(presenceSet(carol.conn.take()), [`available ${carol.full}`], 'her own resource hears it (§4.4.2)');
  const update = alice.conn.take().find((e) => e.name === 'presence');
  t.equal(update?.attrs.from, carol.full);
  t.equal(update?.getChildText('show'), 'away');
  await send(c, alice, `<presence><show>dnd</show></presence>`);
  t.same(presences(carol.conn.take()), [], 'carol is not subscribed to alice');
  alice.conn.take();

  // Mutual: carol asks back and alice approves → both.
  await send(c, carol, `<presence to='${ALICE}' type='subscribe'/>`);
  t.same(pushAttrs(carol.conn.take()), [{ ver: '3', jid: ALICE, subscription: 'from', ask: 'subscribe' }]);
  t.same(presences(alice.conn.take()), [['subscribe', CAROL]]);
  await send(c, alice, `<presence to='${CAROL}' type='subscribed'/>`);
  t.same(pushAttrs(alice.conn.take()), [{ ver: '4', jid: CAROL, subscription: 'both' }]);
  const carolSees = carol.conn.take();
  t.same(pushAttrs(carolSees), [{ ver: '4', jid: ALICE, subscription: 'both' }]);
  t.same(presenceSet(carolSees), [`available ${alice.full}`, `subscribed ${ALICE}`]);
  t.equal(carolSees.find((e) => e.name === 'presence' && !e.attrs.type)?.getChildText('show'), 'dnd', "alice's current presence");
});

t.test('a request to an offline user waits for the next login (§3.1.3)', async (t) => {
  const c = await cluster(t);
  const alice = await online(c, ALICE, 'phone');
  await send(c, alice, `<presence to='${CAROL}' type='subscribe'/>`);
  alice.conn.take();

  const carol = await c.login(CAROL, 'pc');
  await send(c, carol, `<iq type='get' id='g'><query xmlns='${ROSTER}'/></iq>`);
  t.same(presences(carol.conn.take()), [], 'an interested but unavailable resource gets no request');
  await send(c, carol, '<presence/>');
  t.ok(
    presences(carol.conn.take()).some(([type, from]) => type === 'subscribe' && from === ALICE),
    'delivered with initial presence',
  );
  // Not answered yet: a second resource gets it again at its own initial presence.
  const tablet = await c.login(CAROL, 'tablet');
  await send(c, tablet, '<presence/>');
  t.ok(presences(tablet.conn.take()).some(([type, from]) => type === 'subscribe' && from === ALICE));
});

t.test('pre-approval (§3.4): approved before asked, accepted without asking', async (t) => {
  const c = await cluster(t);
  const alice = await online(c, ALICE, 'phone');
  const carol = await online(c, CAROL, 'pc');
  const features = c.shards[0]?.registry.streamFeatures().map((f) => `${f.attrs.xmlns} ${f.name}`);
  t.ok(features?.includes('urn:xmpp:features:pre-approval sub'), 'advertised as a stream feature');

  await send(c, alice, `<presence to='${CAROL}' type='subscribed'/>`);
  t.same(pushAttrs(alice.conn.take()), [{ ver: '1', jid: CAROL, subscription: 'none', approved: 'true' }]);
  t.same(carol.conn.take(), [], 'a pre-approval is not routed');

  await send(c, carol, `<presence to='${ALICE}' type='subscribe'/>`);
  const atAlice = alice.conn.take();
  t.same(pushAttrs(atAlice), [{ ver: '2', jid: CAROL, subscription: 'from' }], 'approval consumed');
  t.same(presences(atAlice), [], "alice's client is not asked");
  const atCarol = carol.conn.take();
  t.same(pushAttrs(atCarol), [
    { ver: '1', jid: ALICE, subscription: 'none', ask: 'subscribe' },
    { ver: '2', jid: ALICE, subscription: 'to' },
  ]);
  t.same(presenceSet(atCarol), [`available ${alice.full}`, `subscribed ${ALICE}`]);
});

t.test('denying a request (§3.2.1 before approval)', async (t) => {
  const c = await cluster(t);
  const alice = await online(c, ALICE, 'phone');
  const carol = await online(c, CAROL, 'pc');
  await send(c, alice, `<presence to='${CAROL}' type='subscribe'/>`);
  alice.conn.take();
  carol.conn.take();
  await send(c, carol, `<presence to='${ALICE}' type='unsubscribed'/>`);
  t.same(pushes(carol.conn.take()), [], 'carol never saw an item, so no push');
  t.equal(await item(c, CAROL, ALICE), undefined, 'the placeholder is gone');
  const atAlice = alice.conn.take();
  t.same(pushAttrs(atAlice), [{ ver: '2', jid: CAROL, subscription: 'none' }], 'ask cleared');
  t.same(presences(atAlice), [['unsubscribed', CAROL]]);
});

t.test('cancelling (§3.2) and unsubscribing (§3.3) from a mutual subscription', async (t) => {
  const c = await cluster(t);
  await setSubscription(c, ALICE, CAROL, 'both');
  await setSubscription(c, CAROL, ALICE, 'both');
  const alice = await online(c, ALICE, 'phone');
  const carol = await online(c, CAROL, 'pc');
  alice.conn.take();
  carol.conn.take();

  // carol cancels alice's subscription to her: carol Both → To, alice Both → From, alice sees carol go offline.
  await send(c, carol, `<presence to='${ALICE}' type='unsubscribed'/>`);
  t.match(pushAttrs(carol.conn.take()), [{ jid: ALICE, subscription: 'to' }]);
  let atAlice = alice.conn.take();
  t.match(pushAttrs(atAlice), [{ jid: CAROL, subscription: 'from' }]);
  t.same(presenceSet(atAlice), [`unavailable ${carol.full}`, `unsubscribed ${CAROL}`]);

  // carol unsubscribes from alice: carol To → None, alice From → None; carol sees alice go offline (§3.3.3).
  await send(c, carol, `<presence to='${ALICE}' type='unsubscribe'/>`);
  const atCarol = carol.conn.take();
  t.match(pushAttrs(atCarol), [{ jid: ALICE, subscription: 'none' }]);
  t.same(presences(atCarol), [['unavailable', alice.full]]);
  atAlice = alice.conn.take();
  t.match(pushAttrs(atAlice), [{ jid: CAROL, subscription: 'none' }]);
  t.same(presences(atAlice), [['unsubscribe', CAROL]]);
  t.match(await item(c, ALICE, CAROL), { subscription: 'none' });
  t.match(await item(c, CAROL, ALICE), { subscription: 'none' });

  // Nothing flows any more.
  await send(c, alice, '<presence><show>xa</show></presence>');
  t.same(presences(carol.conn.take()), []);
});

t.test('probes on login and broadcast to subscribers (§4.2, §4.3)', async (t) => {
  const seen: string[] = [];
  const c = await cluster(t, seen);
  await setSubscription(c, ALICE, CAROL, 'both');
  await setSubscription(c, CAROL, ALICE, 'both');

  // alice logs in while carol is offline: the probe answer says so.
  const alice = await c.login(ALICE, 'phone');
  await send(
    c,
    alice,
    '<presence><priority>5</priority><c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="n" ver="v"/></presence>',
  );
  t.same(
    presenceSet(alice.conn.take()),
    [`available ${alice.full}`, `unavailable ${CAROL}`],
    'her own presence echoed (§4.2.2), and carol unavailable',
  );
  t.equal(c.sessionOf(alice).priority, 5);

  // carol logs in: alice sees her, and carol learns about alice through her probe.
  const carol = await c.login(CAROL, 'pc');
  await send(c, carol, '<presence/>');
  t.same(presences(alice.conn.take()), [['', carol.full]]);
  const atCarol = carol.conn.take();
  const fromAlice = atCarol.find((e) => e.name === 'presence' && e.attrs.from === alice.full);
  t.ok(fromAlice, "the probe brought alice's presence");
  t.equal(fromAlice?.getChildText('priority'), '5');
  t.equal(fromAlice?.getChild('c', 'http://jabber.org/protocol/caps')?.attrs.ver, 'v', 'XEP-0115 caps forwarded untouched');
});

t.test("a user's resources see each other (§4.2.2, §4.4.2)", async (t) => {
  const c = await cluster(t);
  const phone = await online(c, ALICE, 'phone', '<presence><show>chat</show></presence>');
  const laptop = await c.login(ALICE, 'laptop');
  await send(c, laptop, '<presence/>');
  t.same(presences(phone.conn.take()), [['', laptop.full]]);
  const atLaptop = laptop.conn.take();
  t.same(presenceSet(atLaptop), [`available ${laptop.full}`, `available ${phone.full}`]);
  t.equal(atLaptop.find((e) => e.attrs.from === phone.full)?.getChildText('show'), 'chat');
  // Presence addressed to the user's own bare JID goes to all of the user's available resources.
  await send(c, phone, `<presence to='${ALICE}'><status>note to self</status></presence>`);
  t.equal(
    laptop.conn
      .take()
      .find((e) => e.name === 'presence')
      ?.getChildText('status'),
    'note to self',
  );
  t.equal(c.sessionOf(phone).directedTo.size, 0, 'not remembered as directed presence');
  phone.conn.take();
  await send(c, phone, '<presence type="unavailable"/>');
  t.same(presences(laptop.conn.take()), [['unavailable', phone.full]]);
  t.same(presences(phone.conn.take()), [['unavailable', phone.full]], 'echoed to the sender too');
  t.notOk(c.sessionOf(phone).available);
});

t.test('unavailable on disconnect reaches contacts, other resources and directed-presence recipients (§4.5, §4.6)', async (t) => {
  const seen: string[] = [];
  const c = await cluster(t, seen);
  await setSubscription(c, ALICE, CAROL, 'from');
  await setSubscription(c, CAROL, ALICE, 'to');
  const carol = await online(c, CAROL, 'pc');
  const dave = await online(c, DAVE, 'home');
  const alice = await online(c, ALICE, 'phone');
  const laptop = await online(c, ALICE, 'laptop');
  carol.conn.take();
  alice.conn.take();

  // Directed presence to a stranger (§4.6.2) is delivered as it is and remembered.
  await send(c, alice, `<presence to='${DAVE}/home'><status>psst</status></presence>`);
  const directed = dave.conn.take().find((e) => e.name === 'presence');
  t.equal(directed?.attrs.from, alice.full);
  t.equal(directed?.getChildText('status'), 'psst');
  t.ok(c.sessionOf(alice).directedTo.has(`${DAVE}/home`));
  // To a subscriber it is not remembered (the broadcast covers it).
  await send(c, alice, `<presence to='${CAROL}'/>`);
  t.notOk(c.sessionOf(alice).directedTo.has(CAROL));
  carol.conn.take();

  await disconnect(c, alice);
  t.same(presences(carol.conn.take()), [['unavailable', alice.full]]);
  t.same(presences(dave.conn.take()), [['unavailable', alice.full]]);
  t.same(presences(laptop.conn.take()), [['unavailable', alice.full]]);
  t.ok(seen.includes(`unavailable ${alice.full}`), "'session:unavailable' fired");
});

t.test('directed unavailable ends the directed presence (§4.6.3)', async (t) => {
  const c = await cluster(t);
  const dave = await online(c, DAVE, 'home');
  const alice = await online(c, ALICE, 'phone');
  await send(c, alice, `<presence to='${DAVE}'/>`);
  await send(c, alice, `<presence to='${DAVE}' type='unavailable'/>`);
  t.same(presences(dave.conn.take()), [
    ['', alice.full],
    ['unavailable', alice.full],
  ]);
  t.equal(c.sessionOf(alice).directedTo.size, 0);
  await disconnect(c, alice);
  t.same(dave.conn.take(), [], 'nothing more when alice leaves');
});

t.test('directed presence from a session that never went available still gets its unavailable', async (t) => {
  const c = await cluster(t);
  const dave = await online(c, DAVE, 'home');
  const alice = await c.login(ALICE, 'phone');
  await send(c, alice, `<presence to='${DAVE}/home'/>`);
  t.same(presences(dave.conn.take()), [['', alice.full]]);
  await disconnect(c, alice);
  t.same(presences(dave.conn.take()), [['unavailable', alice.full]]);
});

t.test('probes: no presence for non-subscribers, and a stale To is corrected (§4.3.2)', async (t) => {
  const c = await cluster(t);
  const alice = await online(c, ALICE, 'phone');
  // dave believes he is subscribed to alice; alice's roster says otherwise.
  await setSubscription(c, DAVE, ALICE, 'to');
  const dave = await c.login(DAVE, 'home');
  await send(c, dave, `<iq type='get' id='g'><query xmlns='${ROSTER}'/></iq>`);
  dave.conn.take();
  await send(c, dave, '<presence/>');
  const atDave = dave.conn.take();
  t.notOk(
    presences(atDave).some(([, from]) => from === alice.full),
    "alice's presence is not revealed",
  );
  t.ok(
    presences(atDave).some(([type, from]) => type === 'unsubscribed' && from === ALICE),
    'unsubscribed instead',
  );
  t.match(pushAttrs(atDave), [{ jid: ALICE, subscription: 'none' }]);
  t.match(await item(c, DAVE, ALICE), { subscription: 'none' });
  t.same(presences(alice.conn.take()), [], 'alice hears nothing of it');
});

t.test('client-sent probes are dropped; subscribe to a missing account is refused (§3.1.3)', async (t) => {
  const c = await cluster(t);
  await setSubscription(c, CAROL, ALICE, 'from');
  const carol = await online(c, CAROL, 'pc');
  const alice = await online(c, ALICE, 'phone');
  carol.conn.take();
  await send(c, alice, `<presence to='${CAROL}' type='probe'/>`);
  t.same(presences(alice.conn.take()), [], 'no answer to a probe the client sent');

  await send(c, alice, `<presence to='nobody@localhost' type='subscribe'/>`);
  const els = alice.conn.take();
  t.same(pushAttrs(els), [
    { ver: '1', jid: 'nobody@localhost', subscription: 'none', ask: 'subscribe' },
    { ver: '2', jid: 'nobody@localhost', subscription: 'none' },
  ]);
  t.same(presences(els), [['unsubscribed', 'nobody@localhost']]);
  t.equal(await item(c, 'nobody@localhost', ALICE), undefined, 'no roster for a missing account');
});

t.test("'session:available' is fired after initial presence (offline delivery)", async (t) => {
  const seen: string[] = [];
  const c = await cluster(t, seen);
  const alice = await online(c, ALICE, 'phone');
  await send(c, alice, '<presence><show>away</show></presence>');
  t.same(seen, [`available ${alice.full}`], 'once, for initial presence only');
});

t.test('priority parsing (§4.7.2.3)', async (t) => {
  const p = (inner: string) => parsePriority(xml('presence', {}, xml('priority', {}, inner)));
  t.equal(parsePriority(xml('presence')), 0, 'absent → 0');
  t.equal(p('5'), 5);
  t.equal(p(' -1 '), -1);
  t.equal(p('+7'), 7);
  t.equal(p('200'), 127, 'clamped high');
  t.equal(p('-500'), -128, 'clamped low');
  t.equal(p('high'), 0, 'junk → 0');
  t.equal(p('1.5'), 0);
});
