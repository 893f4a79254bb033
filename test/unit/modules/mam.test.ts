// XEP-0313 personal archives across two shards: juliet (shard 0) and alice (shard 1) are homed apart, so the
// sender's copy is archived on one shard and the recipient's on the other.
import t, { type Test } from 'tap';
import carbons from '../../../src/modules/carbons/index.ts';
import disco from '../../../src/modules/disco/index.ts';
import mam, { sweepArchive } from '../../../src/modules/mam/index.ts';
import messaging from '../../../src/modules/messaging/index.ts';
import offline from '../../../src/modules/offline/index.ts';
import { loadConfig } from '../../../src/config/load.ts';
import type { Config } from '../../../src/config/schema.ts';
import { parseElement } from '../../../src/xmpp/stream-parser.ts';
import type { Element } from '../../../src/xmpp/xml.ts';
import { createTestCluster, type TestClient, type TestCluster } from '../../helpers/test-shard.ts';

const MAM = 'urn:xmpp:mam:2';
const SID = 'urn:xmpp:sid:0';
const JULIET = 'juliet@localhost'; // shard 0
const ALICE = 'alice@localhost'; // shard 1

type Ctx = { c: TestCluster; juliet: TestClient; alice: TestClient };

async function setup(t: Test, archive: Partial<Config['archive']> = {}, extra: { dataDir?: string } = {}): Promise<Ctx> {
  const base = loadConfig({ env: {} });
  const c = await createTestCluster({
    modules: [disco, messaging, offline, carbons, mam],
    shards: 2,
    config: { archive: { ...base.archive, ...archive } },
    ...extra,
  });
  t.teardown(() => c.stop());
  t.equal(c.placement.shardOf(JULIET), 0);
  t.equal(c.placement.shardOf(ALICE), 1);
  await c.createAccounts(JULIET, ALICE);
  const juliet = online(c, await c.login(JULIET, 'balcony'));
  const alice = online(c, await c.login(ALICE, 'phone'));
  return { c, juliet, alice };
}

/** Stands in for the presence module: the session is available. */
function online(c: TestCluster, client: TestClient): TestClient {
  const s = c.sessionOf(client);
  s.available = true;
  s.priority = 1;
  return client;
}

async function say(x: Ctx, from: TestClient, to: string, inner: string, attrs = "type='chat'"): Promise<void> {
  from.send(`<message to='${to}' ${attrs}>${inner}</message>`);
  await x.c.settle();
}

/** Sends an iq and returns everything the client got, the iq reply last. */
async function iq(x: Ctx, client: TestClient, payload: string, type = 'set', to?: string): Promise<{ results: Element[]; reply: Element }> {
  client.conn.take();
  client.send(`<iq type='${type}' id='q1'${to ? ` to='${to}'` : ''}>${payload}</iq>`);
  await x.c.settle();
  const got = client.conn.take();
  const reply = got[got.length - 1];
  if (reply?.name !== 'iq') throw new Error(`no iq reply: ${got.map(String).join('\n')}`);
  return { results: got.slice(0, -1), reply };
}

function form(fields: Record<string, string | string[]>): string {
  const f = Object.entries(fields)
    .map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${x}</value>`).join('')}</field>`)
    .join('');
  return `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${MAM}</value></field>${f}</x>`;
}

async function query(x: Ctx, client: TestClient, inner = '', queryid = 'f1') {
  const r = await iq(x, client, `<query xmlns='${MAM}' queryid='${queryid}'>${inner}</query>`);
  const fin = r.reply.getChild('fin', MAM);
  const set = fin?.getChild('set', 'http://jabber.org/protocol/rsm');
  const forwarded = r.results.map((m) => m.getChild('result', MAM)?.getChild('forwarded', 'urn:xmpp:forward:0'));
  return {
    ...r,
    fin,
    ids: r.results.map((m) => m.getChild('result', MAM)?.attrs.id as string),
    bodies: forwarded.map((f) => f?.getChild('message')?.getChildText('body') ?? ''),
    inner: forwarded.map((f) => f?.getChild('message') as Element),
    complete: fin?.attrs.complete === 'true',
    first: set?.getChild('first'),
    last: set?.getChildText('last'),
    count: set?.getChildText('count'),
  };
}

const stanzaIds = (m: Element | undefined, by: string) =>
  (m?.getChildren('stanza-id', SID) ?? []).filter((e) => e.attrs.by === by).map((e) => e.attrs.id as string);

t.test('stamps the recipient’s stanza-id, strips spoofed ones, keeps origin-id, fills both archives', async (t) => {
  const x = await setup(t);
  await say(
    x,
    x.juliet,
    ALICE,
    `<body>hi</body><origin-id xmlns='${SID}' id='o-1'/><stanza-id xmlns='${SID}' by='Alice@localhost' id='forged'/><stanza-id xmlns='${SID}' by='${JULIET}' id='mine'/>`,
  );
  const got = x.alice.conn.take().find((m) => m.name === 'message');
  const ids = stanzaIds(got, ALICE);
  t.equal(ids.length, 1, 'exactly one stanza-id by the recipient');
  t.not(ids[0], 'forged', 'the forged one (any case of the JID) is gone');
  t.same(stanzaIds(got, JULIET), [], 'the sender’s archive id never leaves its server');
  t.equal(got?.getChild('origin-id', SID)?.attrs.id, 'o-1', 'origin-id untouched');

  const a = await query(x, x.alice);
  t.same(a.ids, ids, 'the stamped id is the archive id');
  t.same(a.bodies, ['hi']);
  t.equal(a.inner[0]?.attrs.xmlns, 'jabber:client');
  t.equal(a.inner[0]?.attrs.from, `${JULIET}/balcony`);
  t.equal(a.results[0]?.attrs.to, `${ALICE}/phone`, 'results go to the requesting resource');
  t.equal(a.results[0]?.getChild('result', MAM)?.attrs.queryid, 'f1');
  t.ok(
    a.results[0]?.getChild('result', MAM)?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp,
  );
  t.ok(a.complete, 'complete');

  const j = await query(x, x.juliet);
  t.same(j.bodies, ['hi'], 'the sender’s copy');
  t.equal(j.inner[0]?.attrs.to, ALICE);
  t.same(stanzaIds(j.inner[0], JULIET), [], 'the client-claimed stanza-id was not stored');
  t.not(j.ids[0], a.ids[0], 'each archive has its own id');
});

t.test('delivery waits until the recipient’s archive entry is committed', async (t) => {
  const x = await setup(t);
  const store = x.c.stores[0]?.archive;
  if (!store) throw new Error('no store');
  const append = store.append.bind(store);
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  store.append = async (owner, entry) => {
    if (owner === ALICE) await gate;
    return append(owner, entry);
  };
  await say(x, x.juliet, ALICE, '<body>wait for it</body>');
  t.same(
    x.alice.conn.take().filter((e) => e.name === 'message'),
    [],
    'not delivered while the append is pending',
  );
  release();
  await x.c.settle();
  const m = x.alice.conn.take().find((e) => e.name === 'message');
  t.equal(m?.getChildText('body'), 'wait for it');
  t.equal(stanzaIds(m, ALICE).length, 1);
});

t.test('sent carbons carry the sender’s stanza-id (XEP-0313 §3.3), the message itself does not', async (t) => {
  const x = await setup(t);
  const other = online(x.c, await x.c.login(JULIET, 'laptop'));
  other.send(`<iq type='set' id='c1'><enable xmlns='urn:xmpp:carbons:2'/></iq>`);
  await x.c.settle();
  other.conn.take();
  await say(x, x.juliet, ALICE, '<body>copy me</body>');
  const carbon = other.conn.take().find((m) => m.getChild('sent', 'urn:xmpp:carbons:2'));
  const inner = carbon?.getChild('sent', 'urn:xmpp:carbons:2')?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('message');
  const j = await query(x, x.juliet);
  t.same(stanzaIds(inner, JULIET), j.ids, 'the carbon names the archive id');
  const delivered = x.alice.conn.take().find((m) => m.name === 'message');
  t.same(stanzaIds(delivered, JULIET), []);
});

t.test('paging: last page, backwards, forwards, flip-page, count and index', async (t) => {
  const x = await setup(t);
  for (let i = 0; i < 7; i++) await say(x, x.juliet, ALICE, `<body>m${i}</body>`);
  const all = await query(x, x.alice);
  t.same(all.bodies, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);

  const last = await query(x, x.alice, "<set xmlns='http://jabber.org/protocol/rsm'><max>3</max><before/></set>");
  t.same(last.bodies, ['m4', 'm5', 'm6'], 'the last page, in chronological order');
  t.same([last.first?.getText(), last.first?.attrs.index, last.last, last.count], [all.ids[4], '4', all.ids[6], '7']);
  t.notOk(last.complete, 'more before it');

  const prev = await query(x, x.alice, `<set xmlns='http://jabber.org/protocol/rsm'><max>3</max><before>${all.ids[4]}</before></set>`);
  t.same(prev.bodies, ['m1', 'm2', 'm3']);
  const head = await query(x, x.alice, `<set xmlns='http://jabber.org/protocol/rsm'><max>3</max><before>${all.ids[1]}</before></set>`);
  t.same([head.bodies, head.complete], [['m0'], true], 'complete at the start when paging backwards');

  const fwd = await query(x, x.alice, `<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>${all.ids[4]}</after></set>`);
  t.same([fwd.bodies, fwd.complete], [['m5', 'm6'], true]);

  const flipped = await query(x, x.alice, `<set xmlns='http://jabber.org/protocol/rsm'><max>3</max><before/></set><flip-page/>`);
  t.same(flipped.bodies, ['m6', 'm5', 'm4'], 'flip-page: newest first on the wire');
  t.same([flipped.first?.getText(), flipped.last], [all.ids[4], all.ids[6]], 'same page, same first/last');

  const capped = await query(x, x.alice, "<set xmlns='http://jabber.org/protocol/rsm'><max>100000</max></set>");
  t.equal(capped.bodies.length, 7, 'max is clamped to maxPageSize, not refused');
});

t.test('filters: with, start/end, #extended ids, after-id/before-id; errors', async (t) => {
  const x = await setup(t);
  const nurse = 'nurse@localhost';
  await x.c.createAccounts(nurse);
  const n = online(x.c, await x.c.login(nurse, 'n'));
  await say(x, x.juliet, ALICE, '<body>j1</body>');
  await say(x, n, ALICE, '<body>n1</body>');
  await say(x, x.juliet, ALICE, '<body>j2</body>');
  const all = await query(x, x.alice);
  t.same(all.bodies, ['j1', 'n1', 'j2']);

  t.same((await query(x, x.alice, form({ with: JULIET }))).bodies, ['j1', 'j2'], 'bare with');
  t.same((await query(x, x.alice, form({ with: `${JULIET}/balcony` }))).bodies, ['j1', 'j2'], 'full with, that resource');
  t.same((await query(x, x.alice, form({ with: `${JULIET}/other` }))).bodies, [], 'full with, another resource');
  t.same((await query(x, x.alice, form({ start: '2000-01-01T00:00:00Z', end: '2999-01-01T00:00:00.000+00:00' }))).bodies.length, 3);
  t.same((await query(x, x.alice, form({ end: '2000-01-01T00:00:00Z' }))).bodies, []);
  t.same((await query(x, x.alice, form({ ids: [all.ids[2] as string, all.ids[0] as string] }))).bodies, ['j1', 'j2']);
  t.same((await query(x, x.alice, form({ 'after-id': all.ids[0] as string, 'before-id': all.ids[2] as string }))).bodies, ['n1']);

  const err = async (inner: string) =>
    (await iq(x, x.alice, `<query xmlns='${MAM}'>${inner}</query>`)).reply.getChild('error')?.getChildElements()[0]?.name;
  t.equal(await err(form({ ids: 'nope' })), 'item-not-found', 'unknown id in ids');
  t.equal(await err(form({ 'after-id': 'nope' })), 'item-not-found');
  t.equal(await err("<set xmlns='http://jabber.org/protocol/rsm'><after>nope</after></set>"), 'item-not-found', 'unknown RSM id');
  t.equal(await err(form({ start: 'yesterday' })), 'bad-request');
  t.equal(await err(form({ with: 'a@b@c' })), 'bad-request');
  t.equal(await err(form({ 'include-groupchat': 'true' })), 'feature-not-implemented', 'unknown field (§4.1.5)');
  t.equal(await err("<set xmlns='http://jabber.org/protocol/rsm'><max>-5</max></set>"), 'bad-request');
  t.equal(await err("<set xmlns='http://jabber.org/protocol/rsm'><index>2</index></set>"), 'feature-not-implemented');
});

t.test('form, metadata, disco, and only the owner may use the archive', async (t) => {
  const x = await setup(t);
  const empty = await iq(x, x.alice, `<metadata xmlns='${MAM}'/>`, 'get');
  t.same(empty.reply.getChild('metadata', MAM)?.getChildElements(), [], 'empty archive');
  await say(x, x.juliet, ALICE, '<body>1</body>');
  await say(x, x.juliet, ALICE, '<body>2</body>');
  const ids = (await query(x, x.alice)).ids;
  const meta = (await iq(x, x.alice, `<metadata xmlns='${MAM}'/>`, 'get')).reply.getChild('metadata', MAM);
  t.equal(meta?.getChild('start')?.attrs.id, ids[0]);
  t.equal(meta?.getChild('end')?.attrs.id, ids[1]);
  t.ok(Date.parse(meta?.getChild('end')?.attrs.timestamp as string) > 0);

  const f = (await iq(x, x.alice, `<query xmlns='${MAM}'/>`, 'get')).reply.getChild('query', MAM)?.getChild('x', 'jabber:x:data');
  t.same(
    f?.getChildren('field').map((e) => e.attrs.var),
    ['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids'],
  );

  const info = (await iq(x, x.alice, "<query xmlns='http://jabber.org/protocol/disco#info'/>", 'get', ALICE)).reply;
  const features = info
    .getChild('query')
    ?.getChildren('feature')
    .map((e) => e.attrs.var);
  for (const ns of [MAM, `${MAM}#extended`, SID]) t.ok(features?.includes(ns), ns);

  const other = await iq(x, x.juliet, `<query xmlns='${MAM}'/>`, 'set', ALICE);
  t.equal(other.reply.attrs.type, 'error');
  t.equal(other.reply.getChild('error')?.getChildElements()[0]?.name, 'forbidden', 'juliet may not read alice’s archive');
  t.equal(other.results.length, 0);
});

t.test('preferences: never, always, roster (XEP-0441)', async (t) => {
  const x = await setup(t);
  const prefs = (inner: string, def: string) => iq(x, x.alice, `<prefs xmlns='${MAM}' default='${def}'>${inner}</prefs>`);
  const got = await iq(x, x.alice, `<prefs xmlns='${MAM}'/>`, 'get');
  t.equal(got.reply.getChild('prefs', MAM)?.attrs.default, 'always', 'the server default');

  const set = await prefs(`<always/><never><jid>${JULIET}/x</jid></never>`, 'always');
  t.same(
    set.reply
      .getChild('prefs', MAM)
      ?.getChild('never')
      ?.getChildren('jid')
      .map((e) => e.getText()),
    [JULIET],
    'echoed, bare',
  );
  await say(x, x.juliet, ALICE, '<body>secret</body>');
  const m = x.alice.conn.take().find((e) => e.name === 'message');
  t.equal(m?.getChildText('body'), 'secret', 'still delivered');
  t.same(stanzaIds(m, ALICE), [], 'not archived, so no stanza-id');
  t.same((await query(x, x.alice)).bodies, [], 'alice’s archive stays empty');
  t.same((await query(x, x.juliet)).bodies, ['secret'], 'juliet’s own prefs still archive her copy');

  await prefs(`<always><jid>${JULIET}</jid></always><never/>`, 'never');
  await say(x, x.juliet, ALICE, '<body>kept</body>');
  t.same((await query(x, x.alice)).bodies, ['kept'], 'always list wins over default never');

  await prefs('', 'roster');
  await say(x, x.juliet, ALICE, '<body>stranger</body>');
  await x.c.stores[0]?.roster.put(ALICE, {
    contact: JULIET,
    name: null,
    subscription: 'both',
    askOut: false,
    pendingIn: false,
    approved: false,
    groups: [],
  });
  await say(x, x.juliet, ALICE, '<body>friend</body>');
  t.same((await query(x, x.alice)).bodies, ['kept', 'friend'], 'roster: only contacts in the roster');
  t.equal((await prefs('', 'sometimes')).reply.getChild('error')?.getChildElements()[0]?.name, 'bad-request');
});

t.test('not archived: groupchat, headline, error, chat states alone, no-store; offline messages are', async (t) => {
  const x = await setup(t);
  await say(x, x.juliet, ALICE, '<body>h</body>', "type='headline'");
  await say(x, x.juliet, ALICE, "<composing xmlns='http://jabber.org/protocol/chatstates'/>");
  await say(x, x.juliet, ALICE, "<body>x</body><no-store xmlns='urn:xmpp:hints'/>");
  await say(x, x.juliet, `${ALICE}/phone`, '<body>g</body>', "type='groupchat'");
  t.same((await query(x, x.alice)).bodies, []);
  t.same((await query(x, x.juliet)).bodies, []);
  // Alice offline: the message is archived (and stored offline), and the offline copy carries the stanza-id.
  x.c.sessionOf(x.alice).available = false;
  await say(x, x.juliet, ALICE, '<body>later</body>');
  t.same((await query(x, x.alice)).bodies, ['later']);
  // An unknown account is never archived.
  await say(x, x.juliet, 'ghost@localhost', '<body>boo</body>');
  t.equal((await x.c.stores[0]?.archive.query('ghost@localhost', { max: 5 }))?.count, 0);
});

t.test('retraction (XEP-0424) leaves a tombstone in both archives', async (t) => {
  const x = await setup(t);
  await say(x, x.juliet, ALICE, `<body>oops</body><origin-id xmlns='${SID}' id='o-42'/>`, "type='chat' id='m42'");
  await say(x, x.juliet, ALICE, '<body>fine</body>');
  const retract = `<retract xmlns='urn:xmpp:message-retract:1' id='o-42'/><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/><body>retracted</body><store xmlns='urn:xmpp:hints'/>`;
  // Alice cannot retract Juliet's message.
  await say(x, x.alice, JULIET, `<retract xmlns='urn:xmpp:message-retract:1' id='o-42'/>`);
  t.same((await query(x, x.alice, form({ with: JULIET }))).bodies.slice(0, 2), ['oops', 'fine'], 'a stranger’s retraction is ignored');
  await say(x, x.juliet, ALICE, retract);
  for (const who of [x.alice, x.juliet]) {
    const q = await query(x, who, form({ with: who === x.alice ? JULIET : ALICE }));
    const tomb = q.inner[0];
    t.equal(tomb?.getChildText('body'), null, 'no body left');
    t.ok(tomb?.getChild('retracted', 'urn:xmpp:message-retract:1')?.attrs.stamp, 'retracted stamp');
    t.equal(tomb?.getChild('origin-id', SID)?.attrs.id, 'o-42', 'ids kept');
    t.equal(tomb?.attrs.id, 'm42');
    t.equal(q.bodies[1], 'fine', 'other messages untouched');
    t.equal(q.bodies[q.bodies.length - 1], 'retracted', 'the retraction itself is archived');
  }
});

t.test('the whole stanza comes back: reactions, corrections, replies, references, markers, OMEMO', async (t) => {
  const x = await setup(t);
  const payloads = [
    "<reactions xmlns='urn:xmpp:reactions:0' id='m1'><reaction>👍</reaction></reactions><store xmlns='urn:xmpp:hints'/>",
    "<body>fixed</body><replace xmlns='urn:xmpp:message-correct:0' id='m1'/>",
    "<body>&gt; hi\nyes</body><reply xmlns='urn:xmpp:reply:0' to='alice@localhost/phone' id='m1'/><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start='0' end='5'/></fallback>",
    "<body>@alice</body><reference xmlns='urn:xmpp:reference:0' type='mention' uri='xmpp:alice@localhost' begin='0' end='6'/>",
    "<displayed xmlns='urn:xmpp:chat-markers:0' id='m1'/>",
    "<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='27183'><key rid='31415'>BASE64</key><iv>IV==</iv></header><payload>PAYLOAD</payload></encrypted><encryption xmlns='urn:xmpp:eme:0' namespace='eu.siacs.conversations.axolotl'/>",
    "<encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'><keys jid='alice@localhost'><key rid='2' kex='true'>KEY</key></keys></header><payload>P2</payload></encrypted>",
  ];
  for (const p of payloads) await say(x, x.juliet, ALICE, p);
  const q = await query(x, x.alice);
  t.equal(q.inner.length, payloads.length);
  for (let i = 0; i < payloads.length; i++) {
    const want = parseElement(`<message xmlns='jabber:client'>${payloads[i]}</message>`).getChildElements();
    const got = (q.inner[i] as Element).getChildElements().filter((e) => !(e.name === 'stanza-id' && e.attrs.xmlns === SID));
    t.same(got.map(String), want.map(String), `payload ${i} round trip`);
  }
});

t.test('retention sweep deletes old entries in bounded batches', async (t) => {
  const x = await setup(t, { retentionDays: 1 });
  const store = x.c.stores[0]?.archive;
  if (!store) throw new Error('no store');
  const now = Date.now();
  for (let i = 0; i < 25; i++) await store.append(ALICE, { id: `old${i}`, ts: now - 3 * 86_400_000 + i, with: JULIET, xml: '<message/>' });
  await store.append(ALICE, { id: 'new', ts: now, with: JULIET, xml: '<message/>' });
  t.equal(await sweepArchive(store, { retentionDays: 1, now, batch: 10, maxBatches: 2 }), 20, 'stops after maxBatches');
  t.equal(await sweepArchive(store, { retentionDays: 1, now, batch: 10 }), 5);
  t.same(
    (await store.query(ALICE, { max: 10 })).items.map((i) => i.id),
    ['new'],
  );
  t.equal(await sweepArchive(store, { retentionDays: 0, now }), 0, '0 keeps everything');
});

t.test('archive disabled: nothing archived or advertised, spoofed ids still stripped', async (t) => {
  const x = await setup(t, { enabled: false });
  await say(x, x.juliet, ALICE, `<body>hi</body><stanza-id xmlns='${SID}' by='${ALICE}' id='forged'/>`);
  const m = x.alice.conn.take().find((e) => e.name === 'message');
  t.equal(m?.getChildText('body'), 'hi');
  t.same(m?.getChildren('stanza-id', SID), [], 'no stanza-id at all');
  t.equal((await x.c.stores[0]?.archive.query(ALICE, { max: 5 }))?.count, 0);
  const r = await iq(x, x.alice, `<query xmlns='${MAM}'/>`);
  t.equal(r.reply.getChild('error')?.getChildElements()[0]?.name, 'service-unavailable');
  const info = (await iq(x, x.alice, "<query xmlns='http://jabber.org/protocol/disco#info'/>", 'get', ALICE)).reply;
  t.notOk(
    info
      .getChild('query')
      ?.getChildren('feature')
      .some((e) => String(e.attrs.var).startsWith(MAM)),
  );
});

t.test('with real libSQL stores', async (t) => {
  const x = await setup(t, {}, { dataDir: t.testdir() });
  await say(x, x.juliet, ALICE, '<body>durable</body>');
  const m = x.alice.conn.take().find((e) => e.name === 'message');
  const a = await query(x, x.alice);
  t.same(a.bodies, ['durable']);
  t.same(stanzaIds(m, ALICE), a.ids);
  t.same((await query(x, x.juliet)).bodies, ['durable']);
});

t.test('personal retention: the server default, and users with their own', async (t) => {
  const { sweepPersonalArchives } = await import('../../../src/modules/mam/retention.ts');
  const { createMemoryUserStores } = await import('../../../src/storage/memory/index.ts');
  const stores = createMemoryUserStores();
  const day = 86_400_000;
  const now = 100 * day;
  for (const owner of ['keep@localhost', 'short@localhost', 'plain@localhost']) {
    for (const age of [40, 10, 1])
      await stores.archive.append(owner, { id: `${owner}-${age}`, ts: now - age * day, with: 'x@localhost', xml: '<message/>' });
  }
  await stores.mamPrefs.setRetention('keep@localhost', 0);
  await stores.mamPrefs.setRetention('short@localhost', 5);
  t.equal(await sweepPersonalArchives(stores.archive, stores.mamPrefs, { serverDays: 30, now }), 3);
  const ids = async (o: string) => (await stores.archive.query(o, { max: 10 })).items.map((i) => i.id);
  t.same(await ids('keep@localhost'), ['keep@localhost-40', 'keep@localhost-10', 'keep@localhost-1'], 'forever');
  t.same(await ids('short@localhost'), ['short@localhost-1'], 'the user keeps 5 days');
  t.same(await ids('plain@localhost'), ['plain@localhost-10', 'plain@localhost-1'], 'the server keeps 30 days');
  t.equal(await sweepPersonalArchives(stores.archive, stores.mamPrefs, { serverDays: 0, now }), 0, 'server forever: only overrides sweep');
});
