// The lean TLS engine (src/tls/lean) against node:tls clients on real loopback sockets: handshake, data both
// ways (split UTF-8, records larger than one read), channel-binding exports equal to the client's, ALPN for
// XEP-0368, TLS 1.2, close_notify, and what a broken or hostile peer gets. TLS 1.3 connections here are
// handed off to the engine's own record layer after the handshake (the default); record-layer.test.ts
// covers the hand-off itself.
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { generateSelfSignedCertificate } from '../../../src/tls/certs.ts';
import { LeanTlsContext, type LeanTlsSocket, leanTls, leanTlsLoadError } from '../../../src/tls/lean/index.ts';

t.ok(leanTls(), `the addon is built by npm ci (${leanTlsLoadError()})`);
const pem = await generateSelfSignedCertificate('localhost');
const LABEL = 'EXPORTER-Channel-Binding';

interface Pair {
  server: LeanTlsSocket;
  client: tls.TLSSocket;
  /** Everything the server decrypted so far. */
  received: Buffer[];
  close(): void;
}

async function pair(ctx: LeanTlsContext, clientOpts: tls.ConnectionOptions = {}): Promise<Pair> {
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = tls.connect({
    host: '127.0.0.1',
    port: (listener.address() as net.AddressInfo).port,
    rejectUnauthorized: false,
    ...clientOpts,
  });
  client.on('error', () => {});
  const [raw] = await accepted;
  const server = ctx.wrap(raw);
  server.on('error', () => {});
  const received: Buffer[] = [];
  server.on('data', (d: Buffer) => received.push(d));
  await Promise.all([once(client, 'secureConnect'), once(server, 'secure')]);
  return {
    server,
    client,
    received,
    close() {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const starttls = new LeanTlsContext({ key: pem.key, cert: pem.cert, groups: null, alpnXmppClient: false });
const direct = new LeanTlsContext({ key: pem.key, cert: pem.cert, groups: null, alpnXmppClient: true });

t.test('TLS 1.3 by default; the exporter (tls-exporter) equals the client side and differs per connection', async (t) => {
  const p = await pair(starttls);
  t.teardown(p.close);
  t.equal(p.server.getProtocol(), 'TLSv1.3');
  t.equal(p.server.encrypted, true);
  const ours = p.server.exportKeyingMaterial(32, LABEL, Buffer.alloc(0));
  t.same(ours, p.client.exportKeyingMaterial(32, LABEL, Buffer.alloc(0)));
  const other = await pair(starttls);
  t.teardown(other.close);
  t.not(other.server.exportKeyingMaterial(32, LABEL, Buffer.alloc(0)).toString('hex'), ours.toString('hex'));
});

t.test('data both ways: UTF-8 split across writes, 300 KB in one write each way, order kept', async (t) => {
  const p = await pair(starttls);
  t.teardown(p.close);
  const text = 'héllo 🐧 wörld ';
  const bytes = Buffer.from(text);
  p.client.write(bytes.subarray(0, 2)); // splits 'é'
  p.client.write(bytes.subarray(2, 9)); // splits the penguin
  p.client.write(bytes.subarray(9));
  await until(() => Buffer.concat(p.received).length === bytes.length);
  t.equal(Buffer.concat(p.received).toString(), text);

  p.received.length = 0;
  const big = Buffer.alloc(300_000, 'x');
  big.write('<end/>', big.length - 6);
  p.client.write(big);
  await until(() => Buffer.concat(p.received).length === big.length);
  t.ok(Buffer.concat(p.received).equals(big), 'server got every byte, in order');

  const got: Buffer[] = [];
  p.client.on('data', (d: Buffer) => got.push(d));
  t.equal(p.server.write(`${'y'.repeat(299_990)}${text}`), true);
  p.server.write('tail');
  await until(() => Buffer.concat(got).length === 299_990 + bytes.length + 4);
  t.equal(
    Buffer.concat(got)
      .toString()
      .slice(-(text.length + 4)),
    `${text}tail`,
  );
});

t.test('XEP-0368 context: selects xmpp-client, refuses other ALPN offers, accepts none', async (t) => {
  const p = await pair(direct, { ALPNProtocols: ['h2', 'xmpp-client'] });
  t.teardown(p.close);
  t.equal(p.server.alpnProtocol, 'xmpp-client');
  t.equal(p.client.alpnProtocol, 'xmpp-client');

  const none = await pair(direct);
  t.teardown(none.close);
  t.equal(none.server.alpnProtocol, false, 'no ALPN offered: none selected, handshake fine');

  const listener = net.createServer((raw) => {
    const s = direct.wrap(raw);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  t.teardown(() => listener.close());
  const client = tls.connect({
    host: '127.0.0.1',
    port: (listener.address() as net.AddressInfo).port,
    rejectUnauthorized: false,
    ALPNProtocols: ['h2'],
  });
  const [err] = (await once(client, 'error').catch((e: unknown) => [e])) as [Error];
  t.match(err.message, /no application protocol/, 'the client is told why (RFC 7301 alert)');
});

t.test('TLS 1.2 clients are served; the configured groups are used', async (t) => {
  const p = await pair(starttls, { maxVersion: 'TLSv1.2' });
  t.teardown(p.close);
  t.equal(p.server.getProtocol(), 'TLSv1.2');
  p.client.write('ok');
  await until(() => p.received.length > 0);
  t.equal(Buffer.concat(p.received).toString(), 'ok');

  const x25519 = new LeanTlsContext({ key: pem.key, cert: pem.cert, groups: 'X25519', alpnXmppClient: false });
  const q = await pair(x25519, { ecdhCurve: 'X25519' });
  t.teardown(q.close);
  t.equal((q.client.getEphemeralKeyInfo() as { name?: string }).name, 'X25519');
  t.throws(
    () => new LeanTlsContext({ key: pem.key, cert: pem.cert, groups: 'NoSuchGroup', alpnXmppClient: false }),
    /groups/,
    'an unknown group is refused when the context is made',
  );
});

t.test('close_notify from the client: the server answers and closes the TCP connection', async (t) => {
  const p = await pair(starttls);
  t.teardown(p.close);
  const closed = once(p.server, 'close');
  p.client.end();
  await closed;
  t.equal(p.server.destroyed, true);
  t.equal(p.server.getProtocol(), null, 'OpenSSL state released on close');
  t.throws(() => p.server.exportKeyingMaterial(32, LABEL, Buffer.alloc(0)), /closed/);
});

t.test('server end(): close_notify reaches the client before the TCP FIN', async (t) => {
  const p = await pair(starttls);
  t.teardown(p.close);
  const got: Buffer[] = [];
  p.client.on('data', (d: Buffer) => got.push(d));
  p.server.write('</stream:stream>');
  p.server.end();
  await once(p.client, 'end');
  t.equal(Buffer.concat(got).toString(), '</stream:stream>', 'what was written before end() arrives');
});

t.test('a peer that does not speak TLS gets an error and a closed socket; other sessions are unaffected', async (t) => {
  const good = await pair(starttls);
  t.teardown(good.close);
  const listener = net.createServer((raw) => {
    const s = starttls.wrap(raw);
    errors.push(once(s, 'error') as Promise<[Error]>);
  });
  const errors: Promise<[Error]>[] = [];
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  t.teardown(() => listener.close());
  const port = (listener.address() as net.AddressInfo).port;
  for (const junk of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', "<stream:stream xmlns='jabber:client'>", '\x16\x03\x01\x00\x05hello']) {
    const c = net.connect(port, '127.0.0.1', () => c.write(junk));
    c.on('error', () => {});
    c.resume(); // read the alert, if any, and the FIN
    await once(c, 'close');
  }
  const failures = await Promise.all(errors);
  t.equal(failures.length, 3);
  for (const [err] of failures) t.match(err.message, /^TLS: /, 'each gets a TLS error');
  good.client.write('still here');
  await until(() => good.received.length > 0);
  t.equal(Buffer.concat(good.received).toString(), 'still here');
});

t.test('writes before the handshake are refused, not sent in clear', async (t) => {
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  t.teardown(() => listener.close());
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const raw = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  const seen: Buffer[] = [];
  raw.on('data', (d: Buffer) => seen.push(d));
  const [serverRaw] = await accepted;
  const s = starttls.wrap(serverRaw);
  t.equal(s.write('secret'), false);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(Buffer.concat(seen).length, 0, 'nothing reached the wire');
  s.destroy();
  raw.destroy();
});
