// Self-signed certificate generation, reuse, checks, and a real TLS handshake on loopback.
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { CertificateError, checkCertificate, ensureCertificate, generateSelfSignedCertificate } from '../../../src/tls/certs.ts';

const DAY = 86_400_000;

t.test('generates once, then reuses', async (t) => {
  const dataDir = t.testdir();
  const started = performance.now();
  const first = await ensureCertificate({ dataDir, domain: 'localhost' });
  t.ok(performance.now() - started < 1000, 'generation takes under a second');
  t.equal(first.generated, true);
  t.same(first.paths, { key: join(dataDir, 'tls', 'localhost.key'), cert: join(dataDir, 'tls', 'localhost.crt') });
  t.equal((await stat(first.paths.key)).mode & 0o777, 0o600, 'key readable by owner only');
  t.equal(await readFile(first.paths.key, 'utf8'), first.key);
  t.equal(await readFile(first.paths.cert, 'utf8'), first.cert);
  t.match(first.key, /^-----BEGIN PRIVATE KEY-----/);

  const x = new X509Certificate(first.cert);
  t.equal(x.publicKey.asymmetricKeyType, 'ec');
  t.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'P-256');
  t.match(x.subjectAltName, /DNS:localhost/);
  t.match(x.subjectAltName, /IP Address:127\.0\.0\.1/);
  t.match(x.subjectAltName, /IP Address:0:0:0:0:0:0:0:1/);
  const days = (x.validToDate.getTime() - x.validFromDate.getTime()) / DAY;
  t.ok(days >= 364 && days <= 366, `valid about a year (${days} days)`);

  const second = await ensureCertificate({ dataDir, domain: 'localhost' });
  t.equal(second.generated, false, 'second call reuses the files');
  t.equal(second.key, first.key);
  t.equal(second.cert, first.cert);

  const other = await ensureCertificate({ dataDir, domain: 'Example.ORG' });
  t.equal(other.generated, true, 'one pair per domain');
  t.equal(other.paths.cert, join(dataDir, 'tls', 'example.org.crt'));
  t.notMatch(new X509Certificate(other.cert).subjectAltName ?? '', /IP Address/, 'loopback IPs only for localhost');
});

t.test('configured paths', async (t) => {
  const dir = t.testdir();
  const pem = await generateSelfSignedCertificate('chat.example.net');
  const paths = { key: join(dir, 'k.pem'), cert: join(dir, 'c.pem') };
  await writeFile(paths.key, pem.key);
  await writeFile(paths.cert, pem.cert);
  const loaded = await ensureCertificate({ dataDir: join(dir, 'data'), domain: 'chat.example.net', ...paths });
  t.same(loaded, { ...pem, generated: false, paths });
  await t.rejects(ensureCertificate({ dataDir: dir, domain: 'x', key: paths.key }), { code: 'ERR_TLS_CONFIG' });
  await t.rejects(ensureCertificate({ dataDir: dir, domain: 'x', key: join(dir, 'nope'), cert: paths.cert }), { code: 'ENOENT' });
});

t.test('refuses half a pair and unsafe domains', async (t) => {
  const dataDir = t.testdir({ tls: { 'example.org.key': 'operator key' } });
  await t.rejects(ensureCertificate({ dataDir, domain: 'example.org' }), CertificateError);
  t.equal(await readFile(join(dataDir, 'tls', 'example.org.key'), 'utf8'), 'operator key', 'not overwritten');
  await t.rejects(ensureCertificate({ dataDir, domain: '../etc' }), { code: 'ERR_TLS_DOMAIN' });
  await t.rejects(ensureCertificate({ dataDir, domain: 'a/b' }), { code: 'ERR_TLS_DOMAIN' });
});

t.test('checkCertificate', async (t) => {
  const good = await generateSelfSignedCertificate('localhost');
  const ok = checkCertificate(good, 'localhost');
  t.same(ok.problems, []);
  t.equal(ok.ok, true);
  t.equal(ok.subject, 'CN=localhost');
  t.same(ok.domains, ['localhost']);
  t.ok(ok.notAfter && ok.notAfter.getTime() > Date.now() + 300 * DAY);

  const wrongDomain = checkCertificate(good, 'example.org');
  t.equal(wrongDomain.ok, false);
  t.match(wrongDomain.problems, [/not valid for example\.org; it covers localhost/]);

  const stranger = await generateSelfSignedCertificate('localhost');
  const mismatched = checkCertificate({ key: stranger.key, cert: good.cert }, 'localhost');
  t.equal(mismatched.ok, false);
  t.match(mismatched.problems, [/private key does not belong/]);

  const expired = await generateSelfSignedCertificate('localhost', {
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - 35 * DAY),
  });
  const old = checkCertificate(expired, 'localhost');
  t.equal(old.ok, false);
  t.match(old.problems, [/expired on \d{4}-/]);
  t.match(checkCertificate(good, 'localhost', new Date(Date.now() + 400 * DAY)).problems, [/expired/], 'now is a parameter');
  t.match(checkCertificate(good, 'localhost', new Date(Date.now() - DAY)).problems, [/not valid yet/]);

  t.match(checkCertificate({ key: 'junk', cert: good.cert }, 'localhost').problems, [/private key could not be read/]);
  t.match(checkCertificate({ key: good.key, cert: 'junk' }, 'localhost'), { ok: false, notAfter: null, problems: [/could not be read/] });
});

t.test('a TLS server on loopback accepts clients with the generated certificate', async (t) => {
  const { key, cert } = await ensureCertificate({ dataDir: t.testdir(), domain: 'localhost' });
  const server = tls.createServer({ key, cert }, (socket) => socket.end('hello'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;

  const read = async (socket: tls.TLSSocket) => {
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString();
  };
  const insecure = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await once(insecure, 'secureConnect');
  t.equal(insecure.authorized, false, 'self-signed: not authorized without a CA');
  const peer = insecure.getPeerCertificate();
  t.equal(tls.checkServerIdentity('localhost', peer), undefined, 'identity check passes for localhost');
  t.type(tls.checkServerIdentity('example.org', peer), Error, 'and fails for another name');
  t.equal(await read(insecure), 'hello');

  // With the certificate as the only trust anchor, full verification (chain + checkServerIdentity) passes.
  const verified = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: cert });
  await once(verified, 'secureConnect');
  t.equal(verified.authorized, true, `authorized (${String(verified.authorizationError ?? 'no error')})`);
  t.equal(await read(verified), 'hello');

  const wrongName = tls.connect({ host: '127.0.0.1', port, servername: 'example.org', ca: cert });
  const [err] = (await once(wrongName, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
});
