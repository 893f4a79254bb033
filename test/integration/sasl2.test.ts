// XEP-0388 SASL2 with XEP-0440 channel binding (SCRAM-SHA-256-PLUS over tls-exporter and
// tls-server-end-point), XEP-0386 Bind2 with inline XEP-0198, XEP-0280 and XEP-0352, byte by byte.
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import { ScramClient } from '../../bench/loadgen/scram-client.ts';
import { connectRaw, type RawClient } from '../helpers/raw-client.ts';
import { addUser, startServerProcess, type ServerProcess } from '../helpers/server.ts';

const SASL2 = 'urn:xmpp:sasl:2';

/** RFC 9266 / RFC 5929 as the client computes them from its side of the TLS connection. */
function clientBinding(socket: TLSSocket, type: string): Buffer {
  if (type === 'tls-exporter') return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  const raw = (socket.getPeerCertificate() as { raw: Buffer }).raw;
  return createHash('sha256').update(raw).digest(); // ECDSA-SHA256 certificate (RFC 5929 §4.1)
}

async function authenticate(c: RawClient, type: string | null, inline: string, opts: { tamper?: boolean } = {}) {
  const socket = c.socket as TLSSocket;
  const data = type ? clientBinding(socket, type) : undefined;
  const cb = type && data ? { type, data: opts.tamper ? Buffer.alloc(data.length) : data } : undefined;
  const scram = new ScramClient('SHA-256', 'alice', 'pw', new Map(), cb);
  const mechanism = type ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256';
  c.elements.length = 0;
  c.send(
    `<authenticate xmlns='${SASL2}' mechanism='${mechanism}'><initial-response>${Buffer.from(scram.clientFirst()).toString('base64')}</initial-response><user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'><software>test</software></user-agent>${inline}</authenticate>`,
  );
  const challenge = await c.waitFor((el) => el.name === 'challenge' || el.name === 'failure');
  if (challenge.name === 'failure') return { outcome: challenge, scram };
  c.send(
    `<response xmlns='${SASL2}'>${Buffer.from(scram.clientFinal(Buffer.from(challenge.text(), 'base64').toString())).toString('base64')}</response>`,
  );
  const outcome = await c.waitFor((el) => el.name === 'success' || el.name === 'failure');
  return { outcome, scram };
}

async function tlsClient(server: ServerProcess): Promise<{ c: RawClient; features: Awaited<ReturnType<RawClient['open']>> }> {
  const c = await connectRaw(server.tlsPort, { directTls: true });
  return { c, features: await c.open() };
}

t.test('SASL2, channel binding and Bind2', async (t) => {
  const dataDir = t.testdir();
  await addUser(dataDir, 'alice@localhost', 'pw');
  const server = await startServerProcess({ dataDir, workers: 2 });
  t.teardown(() => server.stop());

  const { c, features } = await tlsClient(server);
  const auth = features.getChild('authentication', SASL2);
  t.ok(auth, 'SASL2 is offered');
  const mechs = auth?.getChildren('mechanism').map((m) => m.text()) ?? [];
  t.ok(mechs.includes('SCRAM-SHA-256-PLUS'), 'with channel-bound SCRAM');
  const inlineFeatures = auth
    ?.getChild('inline')
    ?.getChild('bind', 'urn:xmpp:bind:0')
    ?.getChild('inline')
    ?.getChildren('feature')
    .map((f) => f.attrs.var);
  t.same([...(inlineFeatures ?? [])].sort(), ['urn:xmpp:carbons:2', 'urn:xmpp:csi:0', 'urn:xmpp:sm:3'], 'Bind2 inline features');

  const bind = `<bind xmlns='urn:xmpp:bind:0'><tag>Test</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/><enable xmlns='urn:xmpp:carbons:2'/><inactive xmlns='urn:xmpp:csi:0'/></bind>`;
  const { outcome, scram } = await authenticate(c, 'tls-exporter', bind);
  t.equal(outcome.name, 'success', 'SCRAM-SHA-256-PLUS with tls-exporter succeeds');
  t.ok(
    scram.verifyServerFinal(Buffer.from(outcome.getChildText('additional-data') ?? '', 'base64').toString()),
    'server signature verified',
  );
  const full = outcome.getChildText('authorization-identifier') ?? '';
  t.match(full, /^alice@localhost\/Test\.[0-9a-f]{8}$/, 'bound to a full JID from the tag');
  const enabled = outcome.getChild('bound', 'urn:xmpp:bind:0')?.getChild('enabled', 'urn:xmpp:sm:3');
  t.equal(enabled?.attrs.resume, 'true', 'stream management enabled inline, resumable');
  const after = await c.waitFor((el) => el.name === 'stream:features');
  t.notOk(after.getChild('bind'), 'no bind feature once bound');
  t.notOk(after.getChild('sm'), 'no sm feature once enabled inline');
  c.send(`<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
  t.equal((await c.waitFor((el) => el.attrs.id === 'p')).attrs.type, 'result', 'the stream is usable without a restart');
  c.send(`<r xmlns='urn:xmpp:sm:3'/>`);
  t.equal((await c.waitFor((el) => el.name === 'a')).attrs.h, '1', 'stream management counts from the start');

  // The same device binds again: it gets the same resource, and the old session is replaced.
  const second = await tlsClient(server);
  const again = await authenticate(second.c, 'tls-server-end-point', `<bind xmlns='urn:xmpp:bind:0'><tag>Test</tag></bind>`);
  t.equal(again.outcome.name, 'success', 'SCRAM-SHA-256-PLUS with tls-server-end-point succeeds');
  t.equal(again.outcome.getChildText('authorization-identifier'), full, 'same user agent, same resource');
  const conflict = await c.waitFor((el) => el.name === 'stream:error');
  t.ok(conflict.getChild('conflict'), 'the older session gets <conflict/>');

  // Channel binding data from another channel is refused.
  const third = await tlsClient(server);
  const forged = await authenticate(third.c, 'tls-exporter', '', { tamper: true });
  t.equal(forged.outcome.name, 'failure', 'wrong channel-binding data fails');
  t.ok(forged.outcome.getChild('not-authorized', 'urn:ietf:params:xml:ns:xmpp-sasl'), 'with not-authorized');

  // No bind requested: success with the bare JID, then features with bind, on the same stream.
  const fourth = await tlsClient(server);
  const bare = await authenticate(fourth.c, null, '');
  t.equal(bare.outcome.getChildText('authorization-identifier'), 'alice@localhost', 'bare JID when nothing was bound');
  const features4 = await fourth.c.waitFor((el) => el.name === 'stream:features');
  t.ok(features4.getChild('bind', 'urn:ietf:params:xml:ns:xmpp-bind'), 'resource binding offered next');
  t.match(await fourth.c.bind('legacy'), /^alice@localhost\/legacy$/, 'and works without a stream restart');
  for (const x of [second.c, third.c, fourth.c]) x.destroy();
});
