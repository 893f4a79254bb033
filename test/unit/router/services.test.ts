// Hosted services (ctx.service) and fan-out (ctx.fanout) over two in-process shards: a stanza for a
// service address is handled on the shard owning its placement key, and a fan-out sends one ring frame
// per destination shard whatever the number of recipients there.
import t from 'tap';
import accounts from '../../../src/modules/accounts/index.ts';
import disco from '../../../src/modules/disco/index.ts';
import messaging from '../../../src/modules/messaging/index.ts';
import presence from '../../../src/modules/presence/index.ts';
import roster from '../../../src/modules/roster/index.ts';
import { defineModule } from '../../../src/router/module.ts';
import { FrameKind, decodeEnvelope } from '../../../src/transport/envelope.ts';
import { StanzaError } from '../../../src/xmpp/errors.ts';
import { type Element, xml } from '../../../src/xmpp/xml.ts';
import { createTestCluster } from '../../helpers/test-shard.ts';

/** A toy service on echo.localhost: key = the local part; `<message>` is fanned out to `<recipients>`. */
function echoService(seen: { shard: number; to: string }[]) {
  return defineModule({
    name: 'echo-service',
    setup(ctx) {
      ctx.disco.item({ jid: 'echo.localhost', name: 'Echo' });
      ctx.service({
        hosts: (domain) => domain === 'echo.localhost',
        placementKey: (to) => `${to.local}@echo.localhost`,
        deliver(stanza: Element, to) {
          seen.push({ shard: ctx.shard, to: `${to.local}@${to.domain}` });
          if (to.local === 'refuse') throw new StanzaError('cancel', 'not-allowed');
          if (stanza.name === 'message') {
            const recipients =
              stanza
                .getChild('recipients')
                ?.getChildren('r')
                .map((r) => r.text()) ?? [];
            ctx.fanout(
              xml('message', { from: `${to.local}@echo.localhost`, type: 'groupchat' }, xml('body', {}, stanza.getChildText('body') ?? '')),
              recipients,
            );
          }
        },
      });
    },
  });
}

t.test('service addresses are handled on the shard owning their placement key', async (t) => {
  const seen: { shard: number; to: string }[] = [];
  const c = await createTestCluster({ modules: [accounts, disco, roster, presence, messaging, echoService(seen)], shards: 2 });
  t.teardown(() => c.stop());
  const alice = await c.login('alice@localhost', 'a');
  // Pick two room names owned by different shards, so one of them is a cross-shard hop for alice.
  const names = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8'];
  const onShard = (s: number) => names.find((n) => c.placement.shardOf(`${n}@echo.localhost`) === s) as string;
  for (const shard of [0, 1]) {
    alice.send(`<message to='${onShard(shard)}@echo.localhost'><body>hi</body></message>`);
  }
  await c.settle();
  t.same(
    seen.map((s) => s.shard === c.placement.shardOf(s.to)),
    [true, true],
    'each address was delivered on its owning shard',
  );
  t.same(new Set(seen.map((s) => s.shard)), new Set([0, 1]), 'one of them crossed the mesh');

  alice.send(`<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
  await c.settle();
  const items = alice.conn
    .take()
    .find((e) => e.attrs.id === 'd1')
    ?.getChild('query')
    ?.getChildren('item');
  t.same(
    items?.map((i) => i.attrs.jid),
    ['echo.localhost'],
    'disco#items of the server lists the hosted service',
  );

  alice.send(`<message id='x' to='refuse@echo.localhost'><body>no</body></message>`);
  await c.settle();
  const [err] = alice.conn.take();
  t.equal(err?.attrs.type, 'error', 'a StanzaError thrown by the service bounces');
  t.ok(err?.getChild('error')?.getChild('not-allowed', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
});

t.test('fan-out: one frame per destination shard, one copy per recipient', async (t) => {
  const seen: { shard: number; to: string }[] = [];
  const c = await createTestCluster({ modules: [accounts, disco, roster, presence, messaging, echoService(seen)], shards: 2 });
  t.teardown(() => c.stop());
  const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8'].map((u) => `${u}@localhost`);
  const clients = [];
  for (const u of users) {
    const client = await c.login(u, 'r');
    client.send(`<presence/>`);
    clients.push(client);
  }
  await c.settle();
  for (const cl of clients) cl.conn.take();
  const room = ['r1', 'r2', 'r3', 'r4'].find((n) => c.placement.shardOf(`${n}@echo.localhost`) === 0) as string;
  const remote = users.filter((u) => c.placement.shardOf(u) === 1);
  t.ok(remote.length >= 2, 'several recipients live on the other shard');

  // Count the frames shard 0 sends to shard 1 while the fan-out happens.
  const frames: number[] = [];
  const runtime = c.shards[1] as (typeof c.shards)[number];
  const original = runtime.handleFrame.bind(runtime);
  runtime.handleFrame = (from, frame) => {
    frames.push(decodeEnvelope(frame).kind);
    original(from, frame);
  };
  const sender = clients[0] as (typeof clients)[number];
  sender.send(
    `<message to='${room}@echo.localhost'><body>all</body><recipients>${users.map((u) => `<r>${u}/r</r>`).join('')}</recipients></message>`,
  );
  await c.settle();
  for (const [i, cl] of clients.entries()) {
    const got = cl.conn.take().filter((e) => e.name === 'message');
    t.equal(got.length, 1, `${users[i]} got one copy`);
    t.equal(got[0]?.attrs.to, `${users[i]}/r`, 'addressed to the recipient');
    t.equal(got[0]?.getChildText('body'), 'all');
  }
  const fanoutFrames = frames.filter((k) => k === FrameKind.Fanout).length;
  t.equal(fanoutFrames, 1, `one Fanout frame carried ${remote.length} copies to shard 1`);
});

t.test('serialize() matches ltx, also for children shared by fan-out copies', async (t) => {
  const { parseElement } = await import('../../../src/xmpp/stream-parser.ts');
  const { serialize, shallowCopy } = await import('../../../src/xmpp/xml.ts');
  const original = parseElement(
    `<message from='r@conference.localhost/a &amp; b' type='groupchat'><body>x &lt; y &amp; "q" 'z'</body><stanza-id xmlns='urn:xmpp:sid:0' by='r@conference.localhost' id='1'/></message>`,
  );
  const a = shallowCopy(original);
  a.attrs.to = 'alice@localhost/r"1';
  const b = shallowCopy(original);
  b.attrs.to = 'bob@localhost/r';
  b.children = b.children.filter((c) => typeof c === 'string' || c.name !== 'stanza-id');
  t.equal(serialize(a), a.toString(), 'first copy: as ltx writes it');
  t.equal(serialize(a), a.toString(), 'again, from the cache');
  t.equal(serialize(b), b.toString(), 'a copy whose children list changed');
  t.equal(serialize(original), original.toString(), 'the original');
  t.equal(original.getChild('body')?.text(), `x < y & "q" 'z'`, 'the shared body is untouched');
});
