// The router and the core modules (disco, ping, version) over two in-process shards.
import t from 'tap';
import accounts from '../../../src/modules/accounts/index.ts';
import disco from '../../../src/modules/disco/index.ts';
import ping from '../../../src/modules/ping/index.ts';
import version from '../../../src/modules/version/index.ts';
import { HookBus, Priority } from '../../../src/router/hooks.ts';
import { SerialQueue } from '../../../src/shard/serial-queue.ts';
import { StanzaError } from '../../../src/xmpp/errors.ts';
import { createTestCluster } from '../../helpers/test-shard.ts';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

t.test('iq routing: server scope, account scope, errors', async (t) => {
  const cluster = await createTestCluster({ modules: [accounts, disco, ping, version], shards: 2 });
  t.teardown(() => cluster.stop());
  const alice = await cluster.login('alice@localhost', 'desk');
  const take = async () => {
    await cluster.settle();
    return alice.conn.take();
  };

  alice.send(`<iq type='get' id='1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
  let [r] = await take();
  t.same([r?.attrs.type, r?.attrs.id, r?.attrs.to, r?.attrs.from], ['result', '1', 'alice@localhost/desk', 'localhost'], 'ping the server');

  alice.send(`<iq type='get' id='2'><ping xmlns='urn:xmpp:ping'/></iq>`);
  [r] = await take();
  t.equal(r?.attrs.type, 'result', 'ping without to is answered for the account');

  alice.send(`<iq type='get' id='3' to='localhost'><query xmlns='jabber:iq:version'/></iq>`);
  [r] = await take();
  t.equal(r?.getChild('query')?.getChildText('name'), 'waddle', 'software version');

  alice.send(`<iq type='get' id='4' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
  [r] = await take();
  const features =
    r
      ?.getChild('query')
      ?.getChildren('feature')
      .map((f) => f.attrs.var) ?? [];
  t.ok(features.includes('urn:xmpp:ping') && features.includes('jabber:iq:version'), 'disco lists what modules registered');
  t.equal(r?.getChild('query')?.getChild('identity')?.attrs.category, 'server');

  alice.send(`<iq type='get' id='5'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
  [r] = await take();
  t.equal(r?.getChild('query')?.getChild('identity')?.attrs.category, 'account', 'account identity for the bare JID');
  t.notOk(
    r
      ?.getChild('query')
      ?.getChildren('feature')
      .some((f) => f.attrs.var === 'jabber:iq:version'),
    'server-only features stay off the account',
  );

  alice.send(`<iq type='get' id='6' to='localhost'><query xmlns='urn:unknown'/></iq>`);
  [r] = await take();
  t.ok(r?.getChild('error')?.getChild('service-unavailable', STANZAS), 'unknown payload: service-unavailable');

  alice.send(`<iq type='get' id='7' to='localhost'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>`);
  [r] = await take();
  t.ok(r?.getChild('error')?.getChild('bad-request', STANZAS), 'two payloads: bad-request');

  alice.send(`<iq type='fetch' id='8' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
  [r] = await take();
  t.ok(r?.getChild('error')?.getChild('bad-request', STANZAS), 'bad type: bad-request');

  alice.send(`<message to='a b@localhost' id='9'><body>x</body></message>`);
  [r] = await take();
  t.ok(r?.getChild('error')?.getChild('jid-malformed', STANZAS), 'malformed to: jid-malformed');

  alice.send(`<message to='bob@example.org' id='10'><body>x</body></message>`);
  [r] = await take();
  t.ok(r?.getChild('error')?.getChild('remote-server-not-found', STANZAS), 'no s2s yet: remote-server-not-found');

  alice.send(`<iq type='get' id='11' to='alice@localhost/nope'><ping xmlns='urn:xmpp:ping'/></iq>`);
  [r] = await take();
  t.ok(r?.getChild('error')?.getChild('service-unavailable', STANZAS), 'iq to a missing resource: service-unavailable');

  alice.send(`<iq type='result' id='12' to='localhost'/>`);
  t.same(await take(), [], 'results to the server are consumed silently');
});

t.test('hooks: priority order, handled stops the chain, sync throws become rejections', async (t) => {
  const bus = new HookBus();
  const order: string[] = [];
  bus.on('session:nonza', () => void order.push('default'), Priority.Default);
  bus.on('session:nonza', () => void order.push('guard'), Priority.Guard);
  const stop = bus.on(
    'session:nonza',
    () => {
      order.push('policy');
      return 'handled';
    },
    Priority.Policy,
  );
  const event = {} as Parameters<typeof bus.fire<'session:nonza'>>[1];
  t.equal(bus.fire('session:nonza', event), 'handled');
  t.same(order, ['guard', 'policy'], 'guard first, chain stopped at handled');
  stop();
  order.length = 0;
  t.equal(bus.fire('session:nonza', event), undefined);
  t.same(order, ['guard', 'default'], 'removed handler no longer runs');
  bus.on(
    'session:nonza',
    () => {
      throw new StanzaError('cancel', 'forbidden');
    },
    Priority.Guard + 1,
  );
  const r = bus.fire('session:nonza', event);
  t.ok(r instanceof Promise, 'a synchronous throw becomes a rejected promise');
  await t.rejects(r as Promise<unknown>, StanzaError);
});

t.test('serial queue keeps order across async tasks and survives failures', async (t) => {
  const errors: unknown[] = [];
  const q = new SerialQueue((e) => errors.push(e));
  const seen: number[] = [];
  q.push(async () => {
    await new Promise((r) => setTimeout(r, 20));
    seen.push(1);
  });
  q.push(() => void seen.push(2));
  q.push(() => {
    throw new Error('boom');
  });
  q.push(async () => {
    throw new Error('async boom');
  });
  q.push(() => void seen.push(3));
  t.same(seen, [], 'the second task waits for the first');
  await new Promise((r) => setTimeout(r, 60));
  t.same(seen, [1, 2, 3], 'in order');
  t.equal(errors.length, 2, 'both failures reported, the queue went on');
});
