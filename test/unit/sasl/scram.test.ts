// RFC 5802 / RFC 7677 SCRAM server: RFC example exchanges, the xmpp.js client, an independent
// SHA-256 client, unknown users, malformed input, and the -PLUS variants over real TLS connections.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import t from 'tap';
import {
  type CredentialLookup,
  type ScramHash,
  type StoredCredentials,
  deriveCredentials,
  deriveScramCredentials,
} from '../../../src/stream/sasl/credentials.ts';
import { type SaslStep, type ScramServerOptions, createScramServer } from '../../../src/stream/sasl/scram.ts';
import { channelBindingData } from '../../../src/stream/sasl/channel-binding.ts';
import { generateSelfSignedCertificate } from '../../../src/tls/certs.ts';
import { type TlsPair, tlsPair } from './tls-pair.ts';

const b = (s: string) => Buffer.from(s, 'utf8');
const text = (step: SaslStep) => (step.kind === 'failure' || step.data === null ? '' : step.data.toString('utf8'));

/** A lookup over an in-memory account table, keyed by normalised username. */
function accounts(table: Record<string, StoredCredentials>): CredentialLookup {
  return async (username) => table[username];
}

const secret = randomBytes(32);
const table = { user: await deriveCredentials('pencil'), juliet: await deriveCredentials('r0m30') };
const lookup = accounts(table);

t.test('RFC 5802 §5 example exchange (SCRAM-SHA-1)', async (t) => {
  const creds = await deriveScramCredentials('pencil', 'SHA-1', Buffer.from('QSXCR+Q6sek8bf92', 'base64'), 4096);
  const server = createScramServer('SHA-1', async (u) => (u === 'user' ? { 'SHA-1': creds, 'SHA-256': creds } : undefined), {
    serverNonce: () => '3rfcNHYJY1ZVvWVs7j',
  });
  t.equal(server.name, 'SCRAM-SHA-1');
  const first = await server.start(b('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'));
  t.equal(first.kind, 'challenge');
  t.equal(text(first), 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
  const final = await server.step(b('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='));
  t.match(final, { kind: 'success', username: 'user' });
  t.equal(text(final), 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');
  t.match(await server.step(b('c=biws')), { kind: 'failure', condition: 'malformed-request' }, 'spent after success');
});

t.test('RFC 7677 §3 example exchange (SCRAM-SHA-256)', async (t) => {
  const creds = await deriveScramCredentials('pencil', 'SHA-256', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
  const server = createScramServer('SHA-256', async () => ({ 'SHA-1': creds, 'SHA-256': creds }), {
    serverNonce: () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  });
  t.equal(server.name, 'SCRAM-SHA-256');
  const first = await server.start(b('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
  t.equal(text(first), 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
  const final = await server.step(
    b('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='),
  );
  t.match(final, { kind: 'success', username: 'user' });
  t.equal(text(final), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
});

// The client @xmpp/client uses: @xmpp/sasl-scram-sha-1 registers the `sasl-scram-sha-1` mechanism on a
// `saslmechanisms` factory. Both are untyped JS, so they are loaded through a typed dynamic import.
interface XmppSaslMechanism {
  name: string;
  response(cred: Record<string, unknown>): string | Promise<string>;
  challenge(chal: string): unknown;
  _serverSignature?: Uint8Array;
}
interface SaslFactory {
  use(plugin: unknown): unknown;
  create(names: string[]): XmppSaslMechanism | null;
}
const loadUntyped = (name: string): Promise<{ default: unknown }> => import(name);

async function xmppJsScramSha1(): Promise<XmppSaslMechanism> {
  const Factory = (await loadUntyped('saslmechanisms')).default as new () => SaslFactory;
  const register = (await loadUntyped('@xmpp/sasl-scram-sha-1')).default as (f: SaslFactory) => void;
  const factory = new Factory();
  register(factory);
  const mech = factory.create(['SCRAM-SHA-1']);
  if (!mech) throw new Error('SCRAM-SHA-1 not registered');
  return mech;
}

async function runXmppJs(username: string, password: string, options: ScramServerOptions = {}) {
  const client = await xmppJsScramSha1();
  const creds = { username, password };
  const server = createScramServer('SHA-1', lookup, { secret, ...options });
  const first = await server.start(b(await client.response(creds)));
  if (first.kind !== 'challenge') return { client, first, final: first };
  client.challenge(first.data.toString('utf8'));
  const final = await server.step(b(await client.response(creds)));
  return { client, first, final };
}

t.test('SCRAM-SHA-1 against the xmpp.js client', async (t) => {
  const ok = await runXmppJs('juliet', 'r0m30');
  t.match(ok.final, { kind: 'success', username: 'juliet' });
  const signature = Buffer.from(ok.client._serverSignature ?? []).toString('base64');
  t.equal(text(ok.final), `v=${signature}`, 'server signature is what the client expects');

  t.match((await runXmppJs('Juliet', 'r0m30')).final, { kind: 'success', username: 'juliet' }, 'localpart is case-insensitive');
  t.match((await runXmppJs('juliet', 'wrong')).final, { kind: 'failure', condition: 'not-authorized' }, 'wrong password');
  const unknown = await runXmppJs('nobody', 'r0m30');
  t.equal(unknown.first.kind, 'challenge', 'unknown user is not revealed before the proof');
  t.match(unknown.final, { kind: 'failure', condition: 'not-authorized' });
});

/** Independent client computation straight from RFC 5802 §3 (node:crypto, no shared code). */
class ScramClient {
  readonly hash: ScramHash;
  readonly nonce = randomBytes(18).toString('base64');
  readonly gs2: string;
  readonly cbData: Buffer;
  readonly bare: string;
  serverSignature = '';
  constructor(hash: ScramHash, username: string, gs2 = 'n,,', cbData: Buffer = Buffer.alloc(0)) {
    this.hash = hash;
    this.gs2 = gs2;
    this.cbData = cbData;
    this.bare = `n=${username.replaceAll('=', '=3D').replaceAll(',', '=2C')},r=${this.nonce}`;
  }
  first(): Buffer {
    return b(this.gs2 + this.bare);
  }
  final(serverFirst: string, password: string): Buffer {
    const attrs = new Map(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)] as const));
    const alg = this.hash === 'SHA-1' ? 'sha1' : 'sha256';
    const salted = pbkdf2Sync(
      password,
      Buffer.from(attrs.get('s') ?? '', 'base64'),
      Number(attrs.get('i')),
      this.hash === 'SHA-1' ? 20 : 32,
      alg,
    );
    const clientKey = createHmac(alg, salted).update('Client Key').digest();
    const storedKey = createHash(alg).update(clientKey).digest();
    // RFC 5802 §7: c= carries base64(gs2-header + cbind-data), the data only with 'p='.
    const withoutProof = `c=${Buffer.concat([Buffer.from(this.gs2), this.cbData]).toString('base64')},r=${attrs.get('r')}`;
    const authMessage = `${this.bare},${serverFirst},${withoutProof}`;
    const signature = createHmac(alg, storedKey).update(authMessage).digest();
    const proof = clientKey.map((byte, i) => byte ^ (signature[i] ?? 0));
    this.serverSignature = createHmac(alg, createHmac(alg, salted).update('Server Key').digest()).update(authMessage).digest('base64');
    return b(`${withoutProof},p=${Buffer.from(proof).toString('base64')}`);
  }
}

async function exchange(hash: ScramHash, username: string, password: string, options: ScramServerOptions = {}, gs2?: string) {
  const client = new ScramClient(hash, username, gs2);
  const server = createScramServer(hash, lookup, { secret, ...options });
  // No initial response: the server asks with an empty challenge (RFC 6120 §6.4.2).
  const empty = await server.start(null);
  if (empty.kind !== 'challenge' || empty.data.length !== 0) throw new Error('expected an empty challenge');
  const first = await server.step(client.first());
  if (first.kind !== 'challenge') return { client, first, final: first };
  return { client, first, final: await server.step(client.final(first.data.toString('utf8'), password)) };
}

t.test('SCRAM-SHA-256 against an independent client', async (t) => {
  const ok = await exchange('SHA-256', 'user', 'pencil');
  t.match(ok.final, { kind: 'success', username: 'user' });
  t.equal(text(ok.final), `v=${ok.client.serverSignature}`, 'server signature matches the client computation');
  t.match((await exchange('SHA-1', 'user', 'pencil')).final, { kind: 'success' }, 'same account over SHA-1');
  t.match((await exchange('SHA-256', 'user', 'pencils')).final, { kind: 'failure', condition: 'not-authorized' });
  t.match((await exchange('SHA-256', 'user', 'pencil', {}, 'y,,')).final, { kind: 'success' }, "'y' flag without -PLUS on offer");
  t.match(
    await exchange('SHA-256', 'user', 'pencil', { plusAdvertised: true }, 'y,,'),
    { first: { kind: 'failure', condition: 'not-authorized' } },
    "'y' while -PLUS is advertised is a downgrade",
  );
});

t.test('authzid', async (t) => {
  t.match((await exchange('SHA-256', 'user', 'pencil', {}, 'n,a=user,')).final, { kind: 'success', username: 'user' });
  t.match((await exchange('SHA-256', 'user', 'pencil', {}, 'n,a=juliet,')).final, { kind: 'failure', condition: 'invalid-authzid' });
  t.match((await exchange('SHA-256', 'user', 'pencil', {}, 'n,a=user@example.org,')).final, {
    kind: 'failure',
    condition: 'invalid-authzid',
  });
  t.match(
    (await exchange('SHA-256', 'user', 'pencil', { domain: 'example.org' }, 'n,a=user@Example.org,')).final,
    { kind: 'success', username: 'user' },
    'bare JID accepted when the domain is known',
  );
  t.match(
    (await exchange('SHA-256', 'user', 'pencils', {}, 'n,a=juliet,')).final,
    { kind: 'failure', condition: 'not-authorized' },
    'password checked first',
  );
});

t.test('unknown users get a stable fake salt and fail only at the proof', async (t) => {
  const challenge = async (username: string, key = secret) => {
    const step = await createScramServer('SHA-256', lookup, { secret: key }).start(b(`n,,n=${username},r=abc`));
    return text(step);
  };
  const salt = (s: string) => /,s=([^,]+),i=(\d+)$/.exec(s)?.slice(1);
  const [fakeSalt, iterations] = salt(await challenge('nobody')) ?? [];
  t.equal(Buffer.from(fakeSalt ?? '', 'base64').length, 16, 'same salt length as real accounts');
  t.equal(iterations, '4096');
  t.equal(salt(await challenge('nobody'))?.[0], fakeSalt, 'deterministic for the same secret');
  t.equal(salt(await challenge('NoBody'))?.[0], fakeSalt, 'after normalisation');
  t.not(salt(await challenge('someone'))?.[0], fakeSalt, 'differs between usernames');
  t.not(salt(await challenge('nobody', randomBytes(32)))?.[0], fakeSalt, 'depends on the secret');
  t.match((await exchange('SHA-256', 'nobody', 'pencil')).final, { kind: 'failure', condition: 'not-authorized' });
});

t.test('malformed client-first-message', async (t) => {
  const cases: [string | Buffer, string][] = [
    [Buffer.from([0x6e, 0x2c, 0x2c, 0xff, 0xfe]), 'not UTF-8'],
    ['', 'empty'],
    ['n=user,r=abc', 'no gs2 header'],
    ['x,,n=user,r=abc', 'unknown cbind flag'],
    ['p=tls-exporter,,n=user,r=abc', 'channel binding requested from a non-PLUS mechanism'],
    ['n,b=user,n=user,r=abc', 'authzid without a='],
    ['n,,m=ext,n=user,r=abc', "mandatory extension 'm'"],
    ['n,,n=user,r=abc,m=ext', "'m' anywhere"],
    ['n,,n=us=er,r=abc', 'bad saslname escape'],
    ['n,,n=,r=abc', 'empty username'],
    ['n,,r=abc,n=user', 'attributes out of order'],
    ['n,,n=user', 'missing nonce'],
    ['n,,n=user,r=', 'empty nonce'],
    ['n,,n=user,r=a\u00e9', 'nonce not printable ASCII'],
    ['n,,n=user,r=abc,garbage', 'not attr=value'],
    ['n,,n=us\0er,r=abc', 'NUL'],
    ['n,,n=\u0007,r=abc', 'username rejected by SASLprep'],
    [`n,,n=user,r=${'a'.repeat(5000)}`, 'oversized'],
  ];
  for (const [input, why] of cases) {
    const step = await createScramServer('SHA-256', lookup).start(typeof input === 'string' ? b(input) : input);
    t.match(step, { kind: 'failure', condition: 'malformed-request' }, why);
  }
  const ext = await createScramServer('SHA-256', lookup).start(b('n,,n=user,r=abc,x=optional'));
  t.equal(ext.kind, 'challenge', 'optional extensions are ignored');
  const failing: CredentialLookup = async () => {
    throw new Error('database down');
  };
  t.match(await createScramServer('SHA-1', failing).start(b('n,,n=user,r=abc')), { kind: 'failure', condition: 'temporary-auth-failure' });
});

t.test('malformed or forged client-final-message', async (t) => {
  const attempt = async (mangle: (final: string, nonce: string) => string) => {
    const client = new ScramClient('SHA-256', 'user');
    const server = createScramServer('SHA-256', lookup, { secret });
    const first = await server.start(client.first());
    const serverFirst = text(first);
    const good = client.final(serverFirst, 'pencil').toString('utf8');
    return server.step(b(mangle(good, serverFirst.slice(2, serverFirst.indexOf(',')))));
  };
  const proofOf = (final: string) => final.slice(final.indexOf(',p=') + 3);
  t.match(await attempt((f) => f), { kind: 'success' }, 'control: unmangled');
  t.match(await attempt((f) => f.replace(/r=[^,]+/, 'r=abcdef')), { kind: 'failure', condition: 'not-authorized' }, 'wrong nonce');
  t.match(
    await attempt((f) => f.replace('c=biws', 'c=eSws')),
    { kind: 'failure', condition: 'not-authorized' },
    'c= does not match gs2 header',
  );
  t.match(await attempt((f) => f.replace(/p=.*/, 'p=!!!!')), { kind: 'failure', condition: 'malformed-request' }, 'bad base64 proof');
  t.match(await attempt((f) => f.replace(/p=.*/, 'p=AAAA')), { kind: 'failure', condition: 'malformed-request' }, 'proof of wrong length');
  t.match(await attempt((f) => f.replace(/,p=.*/, '')), { kind: 'failure', condition: 'malformed-request' }, 'missing proof');
  t.match(await attempt((f) => f.replace('c=biws,', '')), { kind: 'failure', condition: 'malformed-request' }, 'missing c=');
  t.match(await attempt((f) => f.replace(',p=', ',m=x,p=')), { kind: 'failure', condition: 'malformed-request' }, "'m' extension");
  t.match(
    await attempt((_f, nonce) => `c=biws,r=${nonce},p=${Buffer.alloc(32).toString('base64')}`),
    { kind: 'failure', condition: 'not-authorized' },
    'forged proof',
  );
  t.match(
    await attempt((f, nonce) => `c=biws,r=${nonce},x=1,p=${proofOf(f)}`),
    { kind: 'failure', condition: 'not-authorized' },
    'extension not covered by the proof changes AuthMessage',
  );
});

// SCRAM-*-PLUS (RFC 5802 §6) over a real TLS connection: the client computes its binding data on its own end.
const pem = await generateSelfSignedCertificate('localhost');
type Cb = Parameters<NonNullable<ScramServerOptions['channelBinding']>>[0];

async function plusExchange(
  hash: ScramHash,
  pair: TlsPair,
  gs2: string,
  clientCbData: Buffer,
  options: ScramServerOptions = {},
): Promise<{ client: ScramClient; first: SaslStep; final: SaslStep }> {
  const client = new ScramClient(hash, 'user', gs2, clientCbData);
  const server = createScramServer(hash, lookup, {
    secret,
    plus: true,
    plusAdvertised: true,
    channelBinding: (type: Cb) => channelBindingData(pair.server, type),
    ...options,
  });
  const first = await server.start(client.first());
  if (first.kind !== 'challenge') return { client, first, final: first };
  return { client, first, final: await server.step(client.final(first.data.toString('utf8'), 'pencil')) };
}

t.test('SCRAM-*-PLUS with tls-exporter and tls-server-end-point over real TLS', async (t) => {
  const pair = await tlsPair(pem);
  t.teardown(pair.close);
  const exporter = pair.client.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  const endPoint = createHash('sha256')
    .update(pair.client.getPeerX509Certificate()?.raw ?? Buffer.alloc(0))
    .digest();
  t.equal(createScramServer('SHA-256', lookup, { plus: true }).name, 'SCRAM-SHA-256-PLUS');
  t.equal(createScramServer('SHA-1', lookup, { plus: true }).name, 'SCRAM-SHA-1-PLUS');
  for (const hash of ['SHA-1', 'SHA-256'] as const) {
    const viaExporter = await plusExchange(hash, pair, 'p=tls-exporter,,', exporter);
    t.match(viaExporter.final, { kind: 'success', username: 'user' }, `${hash} tls-exporter`);
    t.equal(text(viaExporter.final), `v=${viaExporter.client.serverSignature}`);
    const viaEndPoint = await plusExchange(hash, pair, 'p=tls-server-end-point,a=user,', endPoint);
    t.match(viaEndPoint.final, { kind: 'success', username: 'user' }, `${hash} tls-server-end-point with authzid`);
  }
});

t.test('SCRAM-*-PLUS rejects wrong binding data, other connections, missing or unknown bindings', async (t) => {
  const pair = await tlsPair(pem);
  t.teardown(pair.close);
  const other = await tlsPair(pem);
  t.teardown(other.close);
  const exporter = pair.client.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  const otherExporter = other.client.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  const fail = (condition: string) => ({ final: { kind: 'failure', condition } });

  t.match(
    await plusExchange('SHA-256', pair, 'p=tls-exporter,,', otherExporter),
    fail('not-authorized'),
    'data of another connection (MITM)',
  );
  const flipped = Buffer.from(exporter);
  flipped[0] = (flipped[0] ?? 0) ^ 1;
  t.match(await plusExchange('SHA-256', pair, 'p=tls-exporter,,', flipped), fail('not-authorized'), 'one bit off');
  t.match(await plusExchange('SHA-256', pair, 'p=tls-exporter,,', Buffer.alloc(0)), fail('not-authorized'), 'data left out of c=');
  const endPointAsExporter = await plusExchange('SHA-256', pair, 'p=tls-server-end-point,,', exporter);
  t.match(endPointAsExporter, fail('not-authorized'), 'data of the other type');

  t.match(
    await plusExchange('SHA-256', pair, 'n,,', Buffer.alloc(0)),
    { first: { kind: 'failure', condition: 'malformed-request' } },
    "'n' on -PLUS",
  );
  t.match(
    await plusExchange('SHA-256', pair, 'y,,', Buffer.alloc(0)),
    { first: { kind: 'failure', condition: 'malformed-request' } },
    "'y' on -PLUS",
  );
  t.match(
    await plusExchange('SHA-256', pair, 'p=tls-unique,,', exporter),
    { first: { kind: 'failure', condition: 'malformed-request' } },
    'tls-unique',
  );
  t.match(
    await plusExchange('SHA-256', pair, 'p=tls_exporter,,', exporter),
    { first: { kind: 'failure', condition: 'malformed-request' } },
    'bad cb-name',
  );
  t.match(
    await plusExchange('SHA-256', pair, 'p=tls-exporter,,', exporter, { channelBinding: () => null }),
    { first: { kind: 'failure', condition: 'malformed-request', text: /unsupported channel binding type tls-exporter/ } },
    'type unavailable on this connection (e.g. TLS 1.2)',
  );
  const noCallback = createScramServer('SHA-256', lookup, { plus: true });
  t.match(
    await noCallback.start(b('p=tls-exporter,,n=user,r=abc')),
    { kind: 'failure', condition: 'malformed-request' },
    'no binding source',
  );

  const tls12 = await tlsPair({ ...pem, maxVersion: 'TLSv1.2' });
  t.teardown(tls12.close);
  const on12 = tls12.client.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  t.match(
    await plusExchange('SHA-256', tls12, 'p=tls-exporter,,', on12),
    { first: { kind: 'failure' } },
    'tls-exporter refused on TLS 1.2',
  );
});

t.test('downgrade detection on the non-PLUS mechanisms (RFC 5802 §6)', async (t) => {
  const pair = await tlsPair(pem);
  t.teardown(pair.close);
  const channelBinding = (type: Cb) => channelBindingData(pair.server, type);
  t.match(
    await exchange('SHA-256', 'user', 'pencil', { plusAdvertised: true, channelBinding }, 'y,,'),
    { first: { kind: 'failure', condition: 'not-authorized', text: 'channel binding downgrade' } },
    "'y' while -PLUS is offered",
  );
  t.match(await exchange('SHA-256', 'user', 'pencil', { plusAdvertised: true }, 'n,,'), { final: { kind: 'success' } }, "'n' is fine");
  t.match(await exchange('SHA-1', 'user', 'pencil', { plusAdvertised: false }, 'y,,'), { final: { kind: 'success' } }, "'y' without -PLUS");
  t.match(
    await exchange('SHA-256', 'user', 'pencil', { plusAdvertised: true, channelBinding }, 'p=tls-exporter,,'),
    { first: { kind: 'failure', condition: 'malformed-request' } },
    "'p' on a non-PLUS mechanism",
  );
});
