// Minimal SCRAM client (RFC 5802 §3 and §7; RFC 7677 for SHA-256) for the load generator and the
// SASL2 integration test: no authzid; channel binding ('p=<type>,,', XEP-0440) when given the data. Written here rather than taken from @xmpp/sasl-scram-sha-1
// because the generator must not build element trees or go through a full client stack, and the
// salted password is cached: every benchmark user shares one password and one stored credential set
// (bench/targets/waddle.ts), so PBKDF2 runs once per thread instead of once per login.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export type ScramHash = 'SHA-1' | 'SHA-256';

const DIGEST: Record<ScramHash, { name: 'sha1' | 'sha256'; bytes: number }> = {
  'SHA-1': { name: 'sha1', bytes: 20 },
  'SHA-256': { name: 'sha256', bytes: 32 },
};
const GS2_HEADER = 'n,,';

/** SaltedPassword by `hash:salt:iterations`; one per thread, owned by the caller (no module state). */
export type SaltedPasswordCache = Map<string, Buffer>;

export class ScramClient {
  readonly hash: ScramHash;
  readonly #password: string;
  readonly #clientFirstBare: string;
  readonly #nonce: string;
  readonly #cache: SaltedPasswordCache;
  #serverSignature: Buffer | undefined;
  readonly #gs2: string;
  /** c= : base64(gs2-header + channel-binding data), "biws" without binding (RFC 5802 §7). */
  readonly #cbind: string;

  constructor(
    hash: ScramHash,
    username: string,
    password: string,
    cache: SaltedPasswordCache,
    channelBinding?: { type: string; data: Buffer },
  ) {
    this.hash = hash;
    this.#gs2 = channelBinding ? `p=${channelBinding.type},,` : GS2_HEADER;
    this.#cbind = Buffer.concat([Buffer.from(this.#gs2), channelBinding?.data ?? Buffer.alloc(0)]).toString('base64');
    this.#password = password;
    this.#cache = cache;
    this.#nonce = randomBytes(18).toString('base64');
    // RFC 5802 §5.1: ',' and '=' in a saslname are escaped as =2C and =3D.
    const name = username.replaceAll('=', '=3D').replaceAll(',', '=2C');
    this.#clientFirstBare = `n=${name},r=${this.#nonce}`;
  }

  /** client-first-message, to be base64-encoded into <auth/>. */
  clientFirst(): string {
    return this.#gs2 + this.#clientFirstBare;
  }

  /** client-final-message for the server-first-message; throws if the server's message is unusable. */
  clientFinal(serverFirst: string): string {
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce?.startsWith(this.#nonce) || !salt || !Number.isInteger(iterations) || iterations < 1) {
      throw new Error(`bad server-first-message: ${serverFirst}`);
    }
    const d = DIGEST[this.hash];
    const key = `${this.hash}:${salt}:${iterations}`;
    let salted = this.#cache.get(key);
    if (salted === undefined) {
      salted = pbkdf2Sync(this.#password, Buffer.from(salt, 'base64'), iterations, d.bytes, d.name);
      this.#cache.set(key, salted);
    }
    const withoutProof = `c=${this.#cbind},r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = createHmac(d.name, salted).update('Client Key').digest();
    const storedKey = createHash(d.name).update(clientKey).digest();
    const signature = createHmac(d.name, storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] ?? 0) ^ (signature[i] ?? 0);
    const serverKey = createHmac(d.name, salted).update('Server Key').digest();
    this.#serverSignature = createHmac(d.name, serverKey).update(authMessage).digest();
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** RFC 5802 §3: the client MUST verify ServerSignature in the server-final-message (v=…). */
  verifyServerFinal(serverFinal: string): boolean {
    const v = parseAttributes(serverFinal).get('v');
    if (v === undefined || this.#serverSignature === undefined) return false;
    const got = Buffer.from(v, 'base64');
    return got.length === this.#serverSignature.length && timingSafeEqual(got, this.#serverSignature);
  }
}

function parseAttributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part.slice(0, 1), part.slice(2));
  }
  return out;
}
