// RFC 5802 §3 stored credentials, SASLprep, username normalisation and payload codecs.
import t from 'tap';
import {
  SaslprepError,
  authzidAllowed,
  decodeBase64Strict,
  decodeSaslPayload,
  deriveCredentials,
  deriveScramCredentials,
  encodeSaslPayload,
  normalizeUsername,
  saslPrep,
  verifyPassword,
} from '../../../src/stream/sasl/credentials.ts';

t.test('deriveCredentials and verifyPassword agree', async (t) => {
  const creds = await deriveCredentials('correct horse');
  for (const hash of ['SHA-1', 'SHA-256'] as const) {
    const c = creds[hash];
    t.equal(c.iterations, 4096, `${hash} default iterations`);
    t.equal(Buffer.from(c.salt, 'base64').length, 16, `${hash} 16-byte salt`);
    t.equal(Buffer.from(c.storedKey, 'base64').length, hash === 'SHA-1' ? 20 : 32);
    t.equal(await verifyPassword('correct horse', c, hash), true, `${hash} right password`);
    t.equal(await verifyPassword('correct horse ', c, hash), false, `${hash} wrong password`);
    t.equal(await verifyPassword('correct\u0007horse', c, hash), false, `${hash} SASLprep-invalid password is false, not a throw`);
  }
  t.not(creds['SHA-1'].salt, creds['SHA-256'].salt, 'independent salts');
  t.notMatch(JSON.stringify(creds), /correct/, 'no plaintext stored');
  const again = await deriveCredentials('correct horse');
  t.not(again['SHA-256'].salt, creds['SHA-256'].salt, 'random salt per derivation');
  t.equal(await verifyPassword('correct horse', creds['SHA-1'], 'SHA-256'), false, 'verifier for another hash never matches');

  const few = await deriveCredentials('pw', 1);
  t.equal(few['SHA-256'].iterations, 1);
  t.equal(await verifyPassword('pw', few['SHA-256'], 'SHA-256'), true);
  await t.rejects(deriveCredentials('pw', 0), RangeError);
  await t.rejects(deriveCredentials('bell\u0007'), SaslprepError, 'password SASLprep rejects is refused at registration');
});

t.test('RFC 7677 §3 keys for user/pencil', async (t) => {
  // Values recomputed from the RFC's example salt; the exchange itself is replayed in scram.test.ts.
  const c = await deriveScramCredentials('pencil', 'SHA-256', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
  t.equal(c.salt, 'W22ZaJ0SNY7soEsUEjb6gQ==');
  t.equal(await verifyPassword('pencil', c, 'SHA-256'), true);
});

t.test('SASLprep (RFC 4013) and usernames', async (t) => {
  t.equal(saslPrep('I\u00adX'), 'IX', 'soft hyphen mapped to nothing (RFC 4013 §3 example 1)');
  t.equal(saslPrep('user'), 'user');
  t.equal(saslPrep('USER'), 'USER', 'case preserved for passwords');
  t.equal(saslPrep('\u00aa'), 'a', 'NFKC (example 3)');
  t.equal(saslPrep('\u2168'), 'IX', 'NFKC (example 4)');
  t.equal(saslPrep('a\u00a0b'), 'a b', 'non-ASCII space mapped to SPACE');
  t.throws(() => saslPrep('\u0007'), SaslprepError, 'prohibited (example 5)');
  t.throws(() => saslPrep('\u0627\u0031'), SaslprepError, 'bidi violation (example 6)');
  t.equal(normalizeUsername('Juliet'), 'juliet');
  t.equal(normalizeUsername('JU\u00adLIET'), 'juliet');
  t.equal(normalizeUsername('\u2168'), 'ix');
  t.equal(normalizeUsername('\u00c9lodie'), '\u00e9lodie', 'precomposed lowercase');
  t.equal(normalizeUsername('E\u0301lodie'), '\u00e9lodie', 'combining sequence composed');
});

t.test('authzidAllowed', async (t) => {
  t.equal(authzidAllowed('', 'user', {}), true);
  t.equal(authzidAllowed('USER', 'user', {}), true);
  t.equal(authzidAllowed('other', 'user', {}), false);
  t.equal(authzidAllowed('user@example.org', 'user', {}), false);
  t.equal(authzidAllowed('user@EXAMPLE.org', 'user', { domain: 'example.org' }), true);
  t.equal(authzidAllowed('user@example.org/r', 'user', { domain: 'example.org' }), false);
  t.equal(authzidAllowed('\u0007', 'user', {}), false);
});

t.test('base64 payloads (RFC 6120 §6.4.2)', async (t) => {
  t.same(decodeSaslPayload(''), { ok: true, data: null }, 'no response');
  t.same(decodeSaslPayload('='), { ok: true, data: Buffer.alloc(0) }, 'empty response');
  t.same(decodeSaslPayload('AHVzZXIAcGVuY2ls'), { ok: true, data: Buffer.from('\0user\0pencil') });
  for (const bad of ['AHVz ZXI=', 'abc', 'ab=c', '====', 'YQ', 'Y===', '*abc']) {
    t.same(decodeSaslPayload(bad), { ok: false, condition: 'incorrect-encoding' }, `rejects ${JSON.stringify(bad)}`);
  }
  t.equal(decodeBase64Strict('YQ==')?.toString(), 'a');
  t.equal(encodeSaslPayload(null), '');
  t.equal(encodeSaslPayload(Buffer.alloc(0)), '=');
  t.equal(encodeSaslPayload(Buffer.from('v=abc')), 'dj1hYmM=');
});
