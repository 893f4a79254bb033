// XEP-0352 Client State Indication: buffering while inactive, flush before urgent stanzas and on
// <active/>, latest presence per sender, capacity, and cleanup. Juliet (shard 0) receives from shard 1.
import t, { type Test } from 'tap';
import { CsiBuffer } from '../../../src/modules/csi/csi-buffer.ts';
import csi from '../../../src/modules/csi/index.ts';
import { isUrgent } from '../../../src/modules/csi/urgency.ts';
import messaging from '../../../src/modules/messaging/index.ts';
import { defineModule } from '../../../src/router/module.ts';
import { bareOf } from '../../../src/xmpp/jid.ts';
import { NS } from '../../../src/xmpp/ns.ts';
import { parseElement } from '../../../src/xmpp/stream-parser.ts';
import type { Element } from '../../../src/xmpp/xml.ts';
import { createTestCluster, type TestClient, type TestCluster } from '../../helpers/test-shard.ts';

const JULIET = 'juliet@localhost'; // shard 0
const ALICE = 'alice@localhost'; // shard 1

/** Stands in for the presence module: hands inbound presence to the addressed sessions. */
const presenceRelay = defineModule({
  name: 'presence-relay',
  setup(ctx) {
    ctx.hooks.on('presence:inbound', ({ stanza, to }) => {
      for (const s of ctx.sessions.ofUser(bareOf(to))) if (!to.resource || s.jid.resource === to.resource) ctx.sendToSession(s, stanza);
      return 'handled';
    });
  },
});

async function cluster(t: Test): Promise<TestCluster> {
  const c = await createTestCluster({ modules: [messaging, presenceRelay, csi], shards: 2 });
  t.teardown(() => c.stop());
  return c;
}

/** Injects a stanza on Alice's shard, as if a contact (any `from`) sent it: it crosses the mesh to Juliet's home. */
async function inject(c: TestCluster, text: string): Promise<void> {
  c.shards[c.placement.shardOf(ALICE)]?.router.route(parseElement(text));
  await c.settle();
}

const presence = (from: string, status: string, type = '') =>
  `<presence from='${from}' to='${JULIET}/a'${type ? ` type='${type}'` : ''}><status>${status}</status></presence>`;

/** A short label per received stanza: name, sender resource and status/body text. */
function labels(client: TestClient): string[] {
  return client.conn.take().map((el: Element) => {
    const text = el.getChildText('status') ?? el.getChildText('body') ?? el.getChildElements()[0]?.name ?? '';
    return `${el.name}:${String(el.attrs.from).split('/')[1] ?? ''}:${text}`;
  });
}

async function inactiveJuliet(c: TestCluster): Promise<TestClient> {
  const juliet = await c.login(JULIET, 'a');
  juliet.send(`<inactive xmlns='${NS.CSI}'/>`);
  await c.settle();
  return juliet;
}

t.test('stream feature and nonzas', async (t) => {
  const c = await cluster(t);
  t.not(c.placement.shardOf(ALICE), c.placement.shardOf(JULIET));
  const features = c.shards[0]?.registry.streamFeatures() ?? [];
  t.ok(
    features.some((f) => f.name === 'csi' && f.attrs.xmlns === NS.CSI),
    'XEP-0352 §4.1: <csi/> offered after authentication',
  );
  const juliet = await c.login(JULIET, 'a');
  juliet.send(`<inactive xmlns='${NS.CSI}'/>`);
  juliet.send(`<active xmlns='${NS.CSI}'/>`);
  await c.settle();
  t.same(juliet.conn.take(), [], 'XEP-0352 §4.2: no reply');
  t.equal(juliet.conn.closed, null);
  juliet.send(`<bogus xmlns='${NS.CSI}'/>`);
  await c.settle();
  t.equal(juliet.conn.closed?.condition, 'unsupported-stanza-type', 'other elements are not CSI nonzas');
});

t.test('while inactive: presence waits (latest per sender), an urgent message flushes first, in order', async (t) => {
  const c = await cluster(t);
  const juliet = await inactiveJuliet(c);
  await inject(c, presence(`${ALICE}/phone`, 'p1'));
  await inject(c, presence(`${ALICE}/phone`, 'p2'));
  await inject(
    c,
    `<message from='${ALICE}/phone' to='${JULIET}/a' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
  );
  await inject(c, presence('bob@localhost/laptop', 'b1'));
  await inject(c, presence(`${ALICE}/phone`, 'p3'));
  await inject(c, presence(`${ALICE}/tablet`, 't1', 'unavailable'));
  t.same(labels(juliet), [], 'nothing written while inactive');

  await inject(c, `<message from='${ALICE}/phone' to='${JULIET}/a' type='chat'><body>hello</body></message>`);
  t.same(labels(juliet), [
    'message:phone:composing',
    'presence:laptop:b1',
    'presence:phone:p3',
    'presence:tablet:t1',
    'message:phone:hello',
  ]);

  await inject(c, presence(`${ALICE}/phone`, 'p4'));
  t.same(labels(juliet), [], 'still inactive after the flush');
  juliet.send(`<active xmlns='${NS.CSI}'/>`);
  await c.settle();
  t.same(labels(juliet), ['presence:phone:p4'], 'flushed on <active/>');
  await inject(c, presence(`${ALICE}/phone`, 'p5'));
  t.same(labels(juliet), ['presence:phone:p5'], 'active again: written at once');
});

t.test('iq, errors and subscription requests are urgent; headlines and receipts wait', async (t) => {
  const c = await cluster(t);
  const juliet = await inactiveJuliet(c);
  await inject(c, presence(`${ALICE}/phone`, 'p1'));
  await inject(c, `<message from='${ALICE}/phone' to='${JULIET}/a' type='headline'><body>news</body></message>`);
  await inject(c, `<message from='${ALICE}/phone' to='${JULIET}/a'><received xmlns='urn:xmpp:receipts' id='r'/></message>`);
  t.same(labels(juliet), []);
  await inject(c, `<presence from='${ALICE}' to='${JULIET}/a' type='subscribe'/>`);
  t.same(labels(juliet), ['presence:phone:p1', 'message:phone:news', 'message:phone:received', 'presence::']);
  await inject(c, presence(`${ALICE}/phone`, 'p2'));
  await inject(c, `<iq from='${ALICE}/phone' to='${JULIET}/a' type='get' id='q'><ping xmlns='urn:xmpp:ping'/></iq>`);
  t.same(labels(juliet), ['presence:phone:p2', 'iq:phone:ping']);
  await inject(c, `<message from='${ALICE}/phone' to='${JULIET}/a' type='error'><error type='cancel'/></message>`);
  t.same(labels(juliet), ['message:phone:error']);
});

t.test('only the inactive session buffers', async (t) => {
  const c = await cluster(t);
  const juliet = await inactiveJuliet(c);
  const desk = await c.login(JULIET, 'desk');
  await inject(c, `<presence from='${ALICE}/phone' to='${JULIET}'><status>s</status></presence>`);
  t.same(labels(juliet), []);
  t.same(labels(desk), ['presence:phone:s']);
});

t.test('the buffer is capped: when full, everything is flushed', async (t) => {
  const c = await cluster(t);
  const juliet = await inactiveJuliet(c);
  for (let i = 1; i < 100; i++) await inject(c, presence(`${ALICE}/r${i}`, String(i)));
  t.same(labels(juliet), [], '99 held');
  await inject(c, presence(`${ALICE}/r100`, '100'));
  const got = labels(juliet);
  t.equal(got.length, 100, 'the 100th fills the buffer and flushes it');
  t.equal(got[0], 'presence:r1:1');
  t.equal(got[99], 'presence:r100:100');
});

t.test('an ended session drops its buffer; a new session starts active', async (t) => {
  const c = await cluster(t);
  const juliet = await inactiveJuliet(c);
  await inject(c, presence(`${ALICE}/phone`, 'held'));
  const home = c.shards[c.placement.shardOf(JULIET)];
  const session = home?.sessions.get(JULIET, 'a');
  if (!session || !home) throw new Error('no session');
  await home.home.unbind(session, 'test');
  t.same(labels(juliet), [], 'nothing written to the closed session');
  const again = await c.login(JULIET, 'a');
  await inject(c, presence(`${ALICE}/phone`, 'fresh'));
  t.same(labels(again), ['presence:phone:fresh'], 'XEP-0352 §5: a new stream is active');
});

t.test('isUrgent', async (t) => {
  const u = (x: string) => isUrgent(parseElement(x));
  t.ok(u(`<iq type='result'/>`));
  t.ok(u(`<message><body>x</body></message>`));
  t.ok(u(`<message type='error'/>`));
  t.ok(u(`<message><propose xmlns='urn:xmpp:jingle-message:0' id='c'/></message>`), 'calls ring now');
  t.ok(u(`<message><sent xmlns='urn:xmpp:carbons:2'/></message>`));
  t.ok(
    u(
      `<message><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message><body>x</body></message></forwarded></received></message>`,
    ),
  );
  t.notOk(
    u(
      `<message><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message><paused xmlns='http://jabber.org/protocol/chatstates'/></message></forwarded></received></message>`,
    ),
  );
  t.notOk(u(`<message type='headline'><body>pep</body></message>`));
  t.notOk(u(`<message><displayed xmlns='urn:xmpp:chat-markers:0' id='m'/></message>`));
  t.notOk(u(`<presence/>`));
  t.notOk(u(`<presence type='unavailable'/>`));
  for (const type of ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'error']) t.ok(u(`<presence type='${type}'/>`), type);
});

t.test('CsiBuffer keeps order and the latest presence per sender', async (t) => {
  const b = new CsiBuffer(3);
  const p = (from: string, s: string, type?: string) =>
    parseElement(`<presence from='${from}'${type ? ` type='${type}'` : ''}><status>${s}</status></presence>`);
  t.equal(b.push(p('a', '1')), false);
  t.equal(b.push(parseElement(`<message from='a'/>`)), false);
  t.equal(b.push(p('a', '2', 'unavailable')), false, 'replaces, does not grow');
  t.equal(b.size, 2);
  t.same(
    b.drain().map((e) => `${e.name}:${e.getChildText('status') ?? ''}`),
    ['message:', 'presence:2'],
  );
  t.equal(b.size, 0);
  b.push(p('a', '1'));
  b.push(p('b', '1'));
  t.equal(b.push(p('a', '1', 'subscribe')), true, 'subscription presence is never merged; full at capacity');
});
