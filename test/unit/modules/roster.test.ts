// RFC 6121 §2 roster get/set/remove, pushes to interested resources, XEP-0237 versioning, error cases.
// Two shards; alice and carol are homed on different ones.
import t, { type Test } from 'tap';
import presence from '../../../src/modules/presence/index.ts';
import roster from '../../../src/modules/roster/index.ts';
import type { Element } from '../../../src/xmpp/xml.ts';
import { createTestCluster, type TestClient, type TestCluster } from '../../helpers/test-shard.ts';

const ALICE = 'alice@localhost';
const CAROL = 'carol@localhost';
const ROSTER = 'jabber:iq:roster';

async function cluster(t: Test): Promise<TestCluster> {
  const c = await createTestCluster({ modules: [roster, presence], shards: 2 });
  t.teardown(() => c.stop());
  t.not(c.placement.shardOf(ALICE), c.placement.shardOf(CAROL), 'alice and carol live on different shards');
  await c.createAccounts(...[ALICE, CAROL]);
  return c;
}

/** Logs in and fetches the roster (an interested resource), discarding what arrived. */
async function interested(c: TestCluster, bare: string, resource: string): Promise<TestClient> {
  const client = await c.login(bare, resource);
  client.send(`<iq type='get' id='init'><query xmlns='${ROSTER}'/></iq>`);
  await c.settle();
  client.conn.take();
  return client;
}

async function request(c: TestCluster, client: TestClient, xmlText: string): Promise<Element[]> {
  client.send(xmlText);
  await c.settle();
  return client.conn.take();
}

function reply(els: Element[], id: string): Element {
  const el = els.find((e) => e.name === 'iq' && e.attrs.id === id && (e.attrs.type === 'result' || e.attrs.type === 'error'));
  if (!el) throw new Error(`no reply to ${id} in ${els.map(String).join('\n')}`);
  return el;
}

function errorCondition(el: Element): string | undefined {
  return el.getChild('error')?.getChildElements()[0]?.name;
}

/** Items of the roster pushes among `els`, with the push's ver. */
function pushes(els: Element[]): { ver: string; item: Element }[] {
  return els
    .filter((e) => e.name === 'iq' && e.attrs.type === 'set')
    .map((e) => {
      const query = e.getChild('query', ROSTER) as Element;
      return { ver: String(query.attrs.ver), item: query.getChild('item') as Element };
    });
}

function groups(item: Element): string[] {
  return item.getChildren('group').map((g) => g.getText());
}

t.test('roster get on an empty roster, XEP-0237 ver and the stream feature', async (t) => {
  const c = await cluster(t);
  const phone = await c.login(ALICE, 'phone');
  const res = reply(await request(c, phone, `<iq type='get' id='g1'><query xmlns='${ROSTER}'/></iq>`), 'g1');
  t.equal(res.attrs.type, 'result');
  const query = res.getChild('query', ROSTER);
  t.ok(query, 'a full roster comes back');
  t.equal(query?.attrs.ver, '0');
  t.same(query?.getChildElements(), []);
  const features = c.shards[0]?.registry.streamFeatures().map((f) => `${f.attrs.xmlns} ${f.name}`);
  t.ok(features?.includes('urn:xmpp:features:rosterver ver'), 'XEP-0237 stream feature');
});

t.test('roster set adds, updates and pushes to every interested resource', async (t) => {
  const c = await cluster(t);
  const phone = await interested(c, ALICE, 'phone');
  const laptop = await interested(c, ALICE, 'laptop');
  const quiet = await c.login(ALICE, 'quiet'); // never asked for the roster: gets no pushes (§2.1.6)

  const set = `<iq type='set' id='s1'><query xmlns='${ROSTER}'><item jid='Carol@LocalHost' name='Carol' subscription='both' ask='subscribe' approved='true'><group>Friends</group><group>Work</group></item></query></iq>`;
  const fromPhone = await request(c, phone, set);
  t.equal(reply(fromPhone, 's1').attrs.type, 'result');
  t.equal(reply(fromPhone, 's1').getChildElements().length, 0, 'an empty result');
  const onLaptop = laptop.conn.take();
  for (const els of [fromPhone, onLaptop]) {
    const [push, ...rest] = pushes(els);
    t.equal(rest.length, 0, 'one push per resource');
    t.equal(push?.ver, '1');
    t.equal(push?.item.attrs.jid, CAROL, 'the contact is stored as a normalised bare JID');
    t.equal(push?.item.attrs.name, 'Carol');
    // §2.1.2.5, §2.1.2.1, §2.1.2.2: subscription, approved and ask in a set are ignored.
    t.equal(push?.item.attrs.subscription, 'none');
    t.equal(push?.item.attrs.ask, undefined);
    t.equal(push?.item.attrs.approved, undefined);
    t.same(groups(push?.item as Element), ['Friends', 'Work']);
  }
  const pushTo = fromPhone.find((e) => e.attrs.type === 'set');
  t.equal(pushTo?.attrs.to, phone.full, 'the push goes to the resource that sent the set too');
  t.same(quiet.conn.take(), [], 'no push for a resource that never requested the roster');

  // Update: new name, one group; subscription state is kept from the store.
  const stored = await c.stores[0]?.roster.get(ALICE, CAROL);
  await c.stores[0]?.roster.put(ALICE, { ...(stored as NonNullable<typeof stored>), subscription: 'to' });
  await request(
    c,
    laptop,
    `<iq type='set' id='s2'><query xmlns='${ROSTER}'><item jid='carol@localhost'><group>Work</group></item></query></iq>`,
  );
  const [update] = pushes(phone.conn.take());
  t.equal(update?.ver, '3');
  t.equal(update?.item.attrs.name, undefined, 'the name was dropped');
  t.equal(update?.item.attrs.subscription, 'to', 'a roster set never changes the subscription');
  t.same(groups(update?.item as Element), ['Work']);
});

t.test('roster get lists items; the current ver gets an empty result (XEP-0237)', async (t) => {
  const c = await cluster(t);
  const phone = await interested(c, ALICE, 'phone');
  await request(c, phone, `<iq type='set' id='s1'><query xmlns='${ROSTER}'><item jid='${CAROL}' name='C'/></query></iq>`);
  await request(c, phone, `<iq type='set' id='s2'><query xmlns='${ROSTER}'><item jid='dave@localhost'/></query></iq>`);

  const full = reply(await request(c, phone, `<iq type='get' id='g1'><query xmlns='${ROSTER}' ver=''/></iq>`), 'g1');
  const query = full.getChild('query', ROSTER) as Element;
  t.equal(query.attrs.ver, '2');
  t.same(
    query.getChildren('item').map((i) => [i.attrs.jid, i.attrs.name, i.attrs.subscription]),
    [
      [CAROL, 'C', 'none'],
      ['dave@localhost', undefined, 'none'],
    ],
  );

  const same = reply(await request(c, phone, `<iq type='get' id='g2'><query xmlns='${ROSTER}' ver='2'/></iq>`), 'g2');
  t.equal(same.attrs.type, 'result');
  t.same(same.getChildElements(), [], 'no query: the cached roster is current');

  const stale = reply(await request(c, phone, `<iq type='get' id='g3'><query xmlns='${ROSTER}' ver='1'/></iq>`), 'g3');
  t.equal(stale.getChild('query', ROSTER)?.getChildren('item').length, 2, 'a stale ver gets the whole roster');
});

t.test('roster set error cases (§2.3.3)', async (t) => {
  const c = await cluster(t);
  const phone = await interested(c, ALICE, 'phone');
  const cases: [string, string, string][] = [
    ['two items', `<item jid='${CAROL}'/><item jid='dave@localhost'/>`, 'bad-request'],
    ['no item', '', 'bad-request'],
    ['no jid', `<item name='x'/>`, 'bad-request'],
    ['malformed jid', `<item jid='@localhost'/>`, 'jid-malformed'],
    ['full jid', `<item jid='${CAROL}/phone'/>`, 'bad-request'],
    ['duplicate groups', `<item jid='${CAROL}'><group>A</group><group>A</group></item>`, 'bad-request'],
    ['empty group', `<item jid='${CAROL}'><group/></item>`, 'not-acceptable'],
    ['name too long', `<item jid='${CAROL}' name='${'n'.repeat(2000)}'/>`, 'not-acceptable'],
    ['own jid', `<item jid='${ALICE}'/>`, 'not-allowed'],
  ];
  for (const [what, item, condition] of cases) {
    const res = reply(await request(c, phone, `<iq type='set' id='e'><query xmlns='${ROSTER}'>${item}</query></iq>`), 'e');
    t.equal(res.attrs.type, 'error', what);
    t.equal(errorCondition(res), condition, what);
  }
  t.same((await c.stores[0]?.roster.list(ALICE))?.items, [], 'nothing was stored');
  t.same(phone.conn.take(), [], 'and nothing pushed');
});

t.test("another user cannot read or change a user's roster", async (t) => {
  const c = await cluster(t);
  const carol = await c.login(CAROL, 'pc');
  const get = reply(await request(c, carol, `<iq type='get' id='x1' to='${ALICE}'><query xmlns='${ROSTER}'/></iq>`), 'x1');
  t.equal(get.attrs.type, 'error');
  t.equal(errorCondition(get), 'service-unavailable');
  const set = reply(
    await request(c, carol, `<iq type='set' id='x2' to='${ALICE}'><query xmlns='${ROSTER}'><item jid='dave@localhost'/></query></iq>`),
    'x2',
  );
  t.equal(errorCondition(set), 'forbidden');
  t.same((await c.stores[0]?.roster.list(ALICE))?.items, []);
});

t.test('roster remove pushes the removal; unknown items are item-not-found (§2.5)', async (t) => {
  const c = await cluster(t);
  const phone = await interested(c, ALICE, 'phone');
  const laptop = await interested(c, ALICE, 'laptop');
  const missing = reply(
    await request(c, phone, `<iq type='set' id='r0'><query xmlns='${ROSTER}'><item jid='${CAROL}' subscription='remove'/></query></iq>`),
    'r0',
  );
  t.equal(errorCondition(missing), 'item-not-found');

  await request(c, phone, `<iq type='set' id='s1'><query xmlns='${ROSTER}'><item jid='${CAROL}'/></query></iq>`);
  laptop.conn.take();
  const els = await request(
    c,
    phone,
    `<iq type='set' id='r1'><query xmlns='${ROSTER}'><item jid='${CAROL}' subscription='remove'/></query></iq>`,
  );
  t.equal(reply(els, 'r1').attrs.type, 'result');
  for (const got of [els, laptop.conn.take()]) {
    const [push] = pushes(got);
    t.equal(push?.ver, '2');
    t.equal(push?.item.attrs.jid, CAROL);
    t.equal(push?.item.attrs.subscription, 'remove');
  }
  t.equal(await c.stores[0]?.roster.get(ALICE, CAROL), undefined);
});

t.test('removing a mutual contact cancels both subscriptions at the contact (§2.5.2)', async (t) => {
  const c = await cluster(t);
  const store = c.stores[0];
  const both = { name: null, subscription: 'both', askOut: false, pendingIn: false, approved: false, groups: [] } as const;
  await store?.roster.put(ALICE, { ...both, contact: CAROL, groups: [] });
  await store?.roster.put(CAROL, { ...both, contact: ALICE, groups: [] });
  const alice = await interested(c, ALICE, 'phone');
  const carol = await interested(c, CAROL, 'pc');
  carol.send('<presence/>');
  alice.send('<presence/>');
  await c.settle();
  alice.conn.take();
  carol.conn.take();

  await request(c, alice, `<iq type='set' id='r1'><query xmlns='${ROSTER}'><item jid='${CAROL}' subscription='remove'/></query></iq>`);
  const atCarol = carol.conn.take();
  const types = atCarol.filter((e) => e.name === 'presence').map((e) => [e.attrs.type, e.attrs.from]);
  t.same(
    types.filter(([type]) => type === 'unsubscribe' || type === 'unsubscribed'),
    [
      ['unsubscribe', ALICE],
      ['unsubscribed', ALICE],
    ],
    'both stanzas reach carol, from the bare JID',
  );
  t.ok(
    types.some(([type, from]) => type === 'unavailable' && from === alice.full),
    'carol may no longer see alice: unavailable from her resource (§3.2.2)',
  );
  const last = pushes(atCarol).at(-1);
  t.equal(last?.item.attrs.subscription, 'none', "carol's item for alice ends at none");
  t.equal((await store?.roster.get(CAROL, ALICE))?.subscription, 'none');
});
