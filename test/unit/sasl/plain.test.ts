// RFC 4616 PLAIN checked against stored SCRAM verifiers.
import t from 'tap';
import { type CredentialLookup, deriveCredentials } from '../../../src/stream/sasl/credentials.ts';
import { createPlainServer } from '../../../src/stream/sasl/plain.ts';

const both = await deriveCredentials('pencil');
const sha1Only = (await deriveCredentials('s3cret'))['SHA-1'];
const lookup: CredentialLookup = async (username) => {
  if (username === 'user') return both;
  // An account migrated with only a SHA-1 verifier (the type says both; storage may not).
  if (username === 'legacy') return { 'SHA-1': sha1Only } as unknown as typeof both;
  return undefined;
};
const plain = (message: string | Buffer, options = {}) =>
  createPlainServer(lookup, options).start(typeof message === 'string' ? Buffer.from(message, 'utf8') : message);

t.test('success', async (t) => {
  const server = createPlainServer(lookup);
  t.equal(server.name, 'PLAIN');
  t.same(await server.start(Buffer.from('\0user\0pencil')), { kind: 'success', data: null, username: 'user' });
  t.match(await server.step(Buffer.from('\0user\0pencil')), { kind: 'failure', condition: 'malformed-request' }, 'spent');
  t.match(await plain('\0USER\0pencil'), { kind: 'success', username: 'user' }, 'username is case-insensitive');
  t.match(await plain('\0legacy\0s3cret'), { kind: 'success', username: 'legacy' }, 'falls back to SHA-1 verifier');
  t.match(await plain('\0user\0pen\u00adcil'), { kind: 'success' }, 'password is SASLprepped (soft hyphen maps to nothing)');
});

t.test('no initial response: empty challenge, then the message', async (t) => {
  const server = createPlainServer(lookup);
  const challenge = await server.start(null);
  t.equal(challenge.kind, 'challenge');
  t.equal(challenge.kind === 'challenge' ? challenge.data.length : -1, 0);
  t.match(await server.step(Buffer.from('\0user\0pencil')), { kind: 'success', username: 'user' });
});

t.test('wrong credentials', async (t) => {
  t.match(await plain('\0user\0Pencil'), { kind: 'failure', condition: 'not-authorized' }, 'wrong password');
  t.match(await plain('\0nobody\0pencil'), { kind: 'failure', condition: 'not-authorized' }, 'unknown user');
  t.match(await plain('\0user\0pen\u0007cil'), { kind: 'failure', condition: 'not-authorized' }, 'password SASLprep rejects');
  const failing: CredentialLookup = async () => {
    throw new Error('database down');
  };
  t.match(await createPlainServer(failing).start(Buffer.from('\0user\0pencil')), { kind: 'failure', condition: 'temporary-auth-failure' });
});

t.test('authzid (RFC 4616 §2)', async (t) => {
  t.match(await plain('user\0user\0pencil'), { kind: 'success', username: 'user' }, 'equal to the username');
  t.match(await plain('User\0user\0pencil'), { kind: 'success' }, 'compared after normalisation');
  t.match(await plain('admin\0user\0pencil'), { kind: 'failure', condition: 'invalid-authzid' });
  t.match(await plain('admin\0user\0wrong'), { kind: 'failure', condition: 'not-authorized' }, 'password is checked first');
  t.match(await plain('user@example.org\0user\0pencil'), { kind: 'failure', condition: 'invalid-authzid' }, 'domain unknown');
  t.match(await plain('user@example.org\0user\0pencil', { domain: 'example.org' }), { kind: 'success' }, 'bare JID with known domain');
  t.match(await plain('user@other.org\0user\0pencil', { domain: 'example.org' }), { kind: 'failure', condition: 'invalid-authzid' });
  t.match(
    await plain('user@example.org/res\0user\0pencil', { domain: 'example.org' }),
    { kind: 'failure', condition: 'invalid-authzid' },
    'full JID',
  );
});

t.test('malformed messages', async (t) => {
  const cases: [string | Buffer, string][] = [
    ['user\0pencil', 'one NUL'],
    ['\0user\0pencil\0', 'three NULs'],
    ['\0\0pencil', 'empty authcid'],
    ['\0user\0', 'empty password'],
    ['', 'empty message'],
    [Buffer.from([0, 0x75, 0, 0xc3, 0x28]), 'invalid UTF-8'],
    ['\0us\u0007er\0pencil', 'username rejected by SASLprep'],
    [`\0user\0${'x'.repeat(5000)}`, 'oversized'],
  ];
  for (const [message, why] of cases) t.match(await plain(message), { kind: 'failure', condition: 'malformed-request' }, why);
});
