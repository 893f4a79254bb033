// RFC 9266 tls-exporter and RFC 5929 tls-server-end-point on real TLS connections: the server's data must be
// what a client computes on its own end of the same connection.
import { execFile } from 'node:child_process';
import { X509Certificate, createHash, webcrypto } from 'node:crypto';
import { createServer } from 'node:tls';
import t from 'tap';
import {
  availableChannelBindings,
  channelBindingData,
  isChannelBindingType,
  serverEndPointData,
  serverEndPointHash,
  serverEndPointOf,
} from '../../../src/stream/sasl/channel-binding.ts';
import { generateSelfSignedCertificate } from '../../../src/tls/certs.ts';
import { tlsPair } from './tls-pair.ts';

const pem = await generateSelfSignedCertificate('localhost'); // ECDSA P-256 with SHA-256
const opensslAvailable = await new Promise<boolean>((resolve) => execFile('openssl', ['version'], (err) => resolve(!err)));
const LABEL = 'EXPORTER-Channel-Binding';

t.test('TLS 1.3: tls-exporter equals the client side, tls-server-end-point the hash of the peer certificate', async (t) => {
  const pair = await tlsPair(pem);
  t.teardown(pair.close);
  t.equal(pair.server.getProtocol(), 'TLSv1.3');
  const exporter = channelBindingData(pair.server, 'tls-exporter');
  t.equal(exporter?.length, 32);
  t.same(exporter, pair.client.exportKeyingMaterial(32, LABEL, Buffer.alloc(0)), 'client computes the same bytes');
  const peerDer = pair.client.getPeerX509Certificate()?.raw ?? Buffer.alloc(0);
  t.same(channelBindingData(pair.server, 'tls-server-end-point'), createHash('sha256').update(peerDer).digest());
  t.same(availableChannelBindings(pair.server), ['tls-exporter', 'tls-server-end-point'], 'tls-exporter first (XEP-0440 §4)');

  const other = await tlsPair(pem);
  t.teardown(other.close);
  t.not(channelBindingData(other.server, 'tls-exporter')?.toString('hex'), exporter?.toString('hex'), 'unique per connection');
  t.same(channelBindingData(other.server, 'tls-server-end-point'), channelBindingData(pair.server, 'tls-server-end-point'));
});

t.test('the precomputed end-point data of the configured certificate is what the socket would give', async (t) => {
  const pair = await tlsPair(pem);
  t.teardown(pair.close);
  const endPoint = serverEndPointOf(pem.cert);
  const peerDer = pair.client.getPeerX509Certificate()?.raw ?? Buffer.alloc(0);
  t.same(endPoint, createHash('sha256').update(peerDer).digest(), 'the hash of the certificate the client saw');
  t.same(channelBindingData(pair.server, 'tls-server-end-point', endPoint), channelBindingData(pair.server, 'tls-server-end-point'));
  t.same(availableChannelBindings(pair.server, endPoint), availableChannelBindings(pair.server));
  t.same(
    channelBindingData(pair.server, 'tls-exporter', endPoint),
    channelBindingData(pair.server, 'tls-exporter'),
    'tls-exporter is still per connection',
  );
  t.same(availableChannelBindings(pair.server, null), ['tls-exporter'], 'a certificate without a defined end-point hash');
  t.equal(channelBindingData(pair.server, 'tls-server-end-point', null), null);
});

t.test('TLS 1.2: no tls-exporter (RFC 9266 §4.2), tls-server-end-point still there', async (t) => {
  const pair = await tlsPair({ ...pem, maxVersion: 'TLSv1.2' });
  t.teardown(pair.close);
  t.equal(pair.server.getProtocol(), 'TLSv1.2');
  t.equal(channelBindingData(pair.server, 'tls-exporter'), null);
  t.same(availableChannelBindings(pair.server), ['tls-server-end-point']);
  t.ok(channelBindingData(pair.server, 'tls-server-end-point'));
});

t.test('a closed socket has no exporter', async (t) => {
  const pair = await tlsPair(pem);
  pair.close();
  t.equal(channelBindingData(pair.server, 'tls-exporter'), null);
});

t.test('tls-exporter agrees with the openssl command-line client', { skip: opensslAvailable ? false : 'no openssl' }, async (t) => {
  const listener = createServer(pem);
  listener.listen(0, '127.0.0.1');
  await new Promise((r) => listener.once('listening', r));
  t.teardown(() => listener.close());
  const serverSide = new Promise<Buffer | null>((resolve) =>
    listener.once('secureConnection', (s) => {
      resolve(channelBindingData(s, 'tls-exporter'));
      s.end();
    }),
  );
  const port = (listener.address() as { port: number }).port;
  const out = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-keymatexport', LABEL, '-keymatexportlen', '32'],
      { timeout: 10_000 },
      (err, stdout) => (err && !stdout ? reject(err) : resolve(stdout)),
    );
    child.stdin?.end();
  });
  const hex = /Keying material:\s*([0-9A-F]+)/i.exec(out)?.[1];
  t.ok(hex, 'openssl printed keying material');
  t.equal((await serverSide)?.toString('hex').toUpperCase(), hex?.toUpperCase());
});

/** Self-signed certificates with other signature algorithms (@peculiar/x509, as src/tls/certs.ts uses). */
async function certWith(keyAlg: object, signingAlgorithm: object) {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  // Any of webcrypto's key-pair algorithms; the overloads of generateKey cannot take a union.
  const generate = webcrypto.subtle.generateKey.bind(webcrypto.subtle) as (
    alg: object,
    extractable: boolean,
    usages: webcrypto.KeyUsage[],
  ) => Promise<webcrypto.CryptoKeyPair>;
  const keys = await generate(keyAlg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    { name: 'CN=localhost', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000), signingAlgorithm, keys },
    webcrypto,
  );
  const key = (await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) as ArrayBuffer;
  return {
    x509: new X509Certificate(Buffer.from(cert.rawData)),
    pem: {
      cert: cert.toString('pem'),
      key: `-----BEGIN PRIVATE KEY-----\n${Buffer.from(key).toString('base64')}\n-----END PRIVATE KEY-----\n`,
    },
  };
}

const rsa = (hash: string) => ({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash });

t.test('RFC 5929 §4.1: the hash follows the certificate signature, SHA-1 and MD5 become SHA-256', async (t) => {
  const cases: [string, Awaited<ReturnType<typeof certWith>>, string | null][] = [
    ['RSA with SHA-1', await certWith(rsa('SHA-1'), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' }), 'sha256'],
    ['RSA with SHA-384', await certWith(rsa('SHA-384'), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' }), 'sha384'],
    ['ECDSA with SHA-512', await certWith({ name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-512' }), 'sha512'],
    ['Ed25519 (no single hash)', await certWith({ name: 'Ed25519' }, { name: 'Ed25519' }), null],
    [
      'RSASSA-PSS (hash in parameters)',
      await certWith({ ...rsa('SHA-256'), name: 'RSA-PSS' }, { name: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 }),
      null,
    ],
  ];
  for (const [why, { x509 }, hash] of cases) {
    t.equal(serverEndPointHash(x509), hash, why);
    t.same(serverEndPointData(x509), hash === null ? null : createHash(hash).update(x509.raw).digest(), `${why}: data`);
  }

  const sha384 = cases[1]?.[1];
  if (!sha384) throw new Error('missing case');
  const pair = await tlsPair(sha384.pem);
  t.teardown(pair.close);
  const peerDer = pair.client.getPeerX509Certificate()?.raw ?? Buffer.alloc(0);
  t.same(channelBindingData(pair.server, 'tls-server-end-point'), createHash('sha384').update(peerDer).digest(), 'live RSA/SHA-384');

  const ed = cases[3]?.[1];
  if (!ed) throw new Error('missing case');
  const edPair = await tlsPair(ed.pem);
  t.teardown(edPair.close);
  t.same(availableChannelBindings(edPair.server), ['tls-exporter'], 'not advertised when undefined for the certificate');
  t.equal(channelBindingData(edPair.server, 'tls-server-end-point'), null);
});

t.test('isChannelBindingType', async (t) => {
  t.ok(isChannelBindingType('tls-exporter'));
  t.ok(isChannelBindingType('tls-server-end-point'));
  t.notOk(isChannelBindingType('tls-unique'));
  t.notOk(isChannelBindingType('TLS-EXPORTER'));
});
