// RFC 6120 stream and SASL errors against the real server process: the offender gets the right
// error, and a bystander's session keeps working.
import t, { type Test } from 'tap';
import { connectRaw } from '../helpers/raw-client.ts';
import { addUser, type ServerProcess, startServerProcess } from '../helpers/server.ts';
import type { Element } from '../../src/xmpp/xml.ts';

const STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';
const HEADER = `<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;

function streamErrorCondition(el: Element | undefined): string | undefined {
  return el?.getChildElements().find((c) => c.attrs.xmlns === STREAMS && c.name !== 'text')?.name;
}

let server: ServerProcess;
t.before(async () => {
  const dataDir = t.testdir();
  await addUser(dataDir, 'alice@localhost', 'alice-pw');
  await addUser(dataDir, 'bob@localhost', 'bob-pw');
  server = await startServerProcess({ dataDir, workers: 2 });
});
t.teardown(async () => {
  await server?.stop();
});

async function expectStreamError(
  t: Test,
  send: (c: Awaited<ReturnType<typeof connectRaw>>) => Promise<void> | void,
  condition: string,
  login = false,
) {
  const bystander = await connectRaw(server.c2sPort);
  const bobJid = await bystander.login('bob', 'bob-pw');
  const c = await connectRaw(server.c2sPort);
  if (login) await c.login('alice', 'alice-pw');
  else await c.open();
  await send(c);
  const err = await c.waitFor((el) => el.name === 'stream:error');
  t.equal(streamErrorCondition(err), condition, `stream error is <${condition}/>`);
  await c.closed;
  t.ok(c.isClosed(), 'the offending connection is closed');
  // The bystander is unaffected: it still answers a ping round trip.
  bystander.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
  const pong = await bystander.waitFor((el) => el.name === 'iq' && el.attrs.id === 'p1');
  t.equal(pong.attrs.type, 'result', `bystander ${bobJid} still served`);
  bystander.destroy();
}

t.test('malformed XML gets not-well-formed', (t) => expectStreamError(t, (c) => c.send('<message><body>oops</mess>'), 'not-well-formed'));
t.test('malformed XML after login gets not-well-formed', (t) =>
  expectStreamError(t, (c) => c.send('<presence><<'), 'not-well-formed', true),
);
t.test('a DOCTYPE is restricted-xml', (t) => expectStreamError(t, (c) => c.send('<!DOCTYPE foo [<!ENTITY x "y">]>'), 'restricted-xml'));
t.test('an undeclared entity is restricted-xml', (t) =>
  expectStreamError(t, (c) => c.send(`<message to='bob@localhost'><body>&xxe;</body></message>`), 'restricted-xml', true),
);
t.test('a comment is restricted-xml', (t) => expectStreamError(t, (c) => c.send('<!-- hi -->'), 'restricted-xml'));
t.test('an oversized stanza is policy-violation', (t) =>
  expectStreamError(
    t,
    (c) => c.send(`<message to='bob@localhost'><body>${'x'.repeat(300 * 1024)}</body></message>`),
    'policy-violation',
    true,
  ),
);
t.test('a stanza before authentication is not-authorized', (t) =>
  expectStreamError(
    t,
    async (c) => {
      await c.startTls();
      await c.open();
      c.send(`<message to='bob@localhost'><body>hi</body></message>`);
    },
    'not-authorized',
  ),
);
t.test('a forged from is invalid-from', (t) =>
  expectStreamError(t, (c) => c.send(`<message from='bob@localhost/x' to='bob@localhost'><body>hi</body></message>`), 'invalid-from', true),
);

t.test('a stream to another host gets host-unknown', async (t) => {
  const c = await connectRaw(server.c2sPort);
  c.send(HEADER.replace("to='localhost'", "to='example.net'"));
  const err = await c.waitFor((el) => el.name === 'stream:error');
  t.equal(streamErrorCondition(err), 'host-unknown');
  await c.closed;
});

t.test('STARTTLS is required; PLAIN is offered only over TLS', async (t) => {
  const c = await connectRaw(server.c2sPort);
  const features = await c.open();
  t.ok(features.getChild('starttls')?.getChild('required'), 'starttls is required');
  t.notOk(features.getChild('mechanisms'), 'no SASL before TLS');
  c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0alice-pw').toString('base64')}</auth>`);
  const failure = await c.waitFor((el) => el.name === 'failure');
  t.ok(failure.getChild('encryption-required'), 'auth before TLS fails with encryption-required');
  await c.startTls();
  const secured = await c.open();
  const mechs =
    secured
      .getChild('mechanisms')
      ?.getChildren('mechanism')
      .map((m) => m.text()) ?? [];
  t.same(mechs, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'], 'mechanisms offered over TLS');
  const cb = secured
    .getChild('sasl-channel-binding', 'urn:xmpp:sasl-cb:0')
    ?.getChildren('channel-binding')
    .map((c) => c.attrs.type);
  t.same(cb, ['tls-exporter', 'tls-server-end-point'], 'XEP-0440 channel-binding types (TLS 1.3)');
  const sasl2 = secured.getChild('authentication', 'urn:xmpp:sasl:2');
  t.ok(sasl2?.getChild('inline')?.getChild('bind', 'urn:xmpp:bind:0'), 'SASL2 offered with Bind2 inline');
  t.ok(sasl2?.getChild('inline')?.getChild('fast', 'urn:xmpp:fast:0'), 'and FAST over TLS');
  t.notOk(secured.getChild('register'), 'no in-band registration unless the operator enables it');
  c.destroy();
});

t.test('wrong credentials get not-authorized, and the account stays usable', async (t) => {
  const c = await connectRaw(server.c2sPort);
  await c.open();
  await c.startTls();
  await c.open();
  const failure = await c.authPlain('alice', 'wrong');
  t.equal(failure.name, 'failure');
  t.ok(failure.getChild('not-authorized'), 'not-authorized');
  const unknown = await c.authPlain('nobody', 'x');
  t.ok(unknown.getChild('not-authorized'), 'unknown user: the same not-authorized');
  c.destroy();
  const ok = await connectRaw(server.c2sPort);
  t.match(await ok.login('alice', 'alice-pw'), /^alice@localhost\//, 'right password still works');
  ok.destroy();
});

t.test('a second session with the same resource replaces the first (conflict)', async (t) => {
  const first = await connectRaw(server.c2sPort);
  const jid = await first.login('alice', 'alice-pw', 'phone');
  t.equal(jid, 'alice@localhost/phone', 'client-chosen resource');
  const second = await connectRaw(server.tlsPort, { directTls: true });
  t.equal(await second.login('alice', 'alice-pw', 'phone'), 'alice@localhost/phone', 'the new session gets the resource');
  const err = await first.waitFor((el) => el.name === 'stream:error');
  t.equal(streamErrorCondition(err), 'conflict', 'the old one gets <conflict/>');
  await first.closed;
  second.send(`<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
  t.equal((await second.waitFor((el) => el.attrs.id === 'p2')).attrs.type, 'result');
  second.destroy();
});

t.test('server-generated resource, and iq errors for unknown payloads', async (t) => {
  const c = await connectRaw(server.c2sPort);
  const jid = await c.login('bob', 'bob-pw');
  t.match(jid, /^bob@localhost\/.+/, 'server generated a resource');
  c.send(`<iq type='get' id='u1' to='localhost'><query xmlns='urn:example:nothing'/></iq>`);
  const err = await c.waitFor((el) => el.attrs.id === 'u1');
  t.equal(err.attrs.type, 'error');
  t.ok(err.getChild('error')?.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas'), 'service-unavailable');
  c.send(`<iq type='get' id='u2' to='localhost'/>`);
  const bad = await c.waitFor((el) => el.attrs.id === 'u2');
  t.ok(bad.getChild('error')?.getChild('bad-request'), 'iq get without payload is bad-request');
  c.destroy();
});

t.test('stanzas pipelined behind the bind request wait for it instead of being refused', async (t) => {
  const c = await connectRaw(server.c2sPort);
  await c.open();
  await c.startTls();
  await c.open();
  t.equal((await c.authPlain('bob', 'bob-pw')).name, 'success');
  await c.open();
  // Bind, then at once (without waiting for the result) a ping: the home shard binds over a ring hop.
  c.send(
    `<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>pipe</resource></bind></iq>` +
      `<iq type='get' id='p9' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`,
  );
  t.equal((await c.waitFor((el) => el.attrs.id === 'b1')).attrs.type, 'result', 'bound');
  t.equal((await c.waitFor((el) => el.attrs.id === 'p9')).attrs.type, 'result', 'the pipelined ping is answered');
  t.notOk(
    c.elements.some((el) => el.name === 'stream:error'),
    'no stream error',
  );
  c.destroy();
});
