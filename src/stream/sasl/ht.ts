// The Hashed Token SASL mechanisms (draft-schmaus-kitten-sasl-ht-08, the version XEP-0484 cites), server
// side: HT-SHA-256-NONE, -EXPR (RFC 9266 tls-exporter) and -ENDP (RFC 5929 tls-server-end-point), used with
// XEP-0484 FAST tokens. HT-SHA-256-UNIQ is left out: tls-unique is undefined for TLS 1.3 (channel-binding.ts).
// One round trip: the initial response proves possession of the token, <success/> proves ours back.
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { ChannelBindingType } from './channel-binding.ts';
import { type SaslMechanismServer, type SaslStep, MAX_SASL_MESSAGE_BYTES, normalizeUsername, saslFailure } from './credentials.ts';

export type HtMechanism = 'HT-SHA-256-NONE' | 'HT-SHA-256-EXPR' | 'HT-SHA-256-ENDP';

/** Every HT mechanism we implement, channel-binding ones first (XEP-0484 §3.1 wants at least one of each kind). */
export const HT_MECHANISMS: readonly HtMechanism[] = ['HT-SHA-256-EXPR', 'HT-SHA-256-ENDP', 'HT-SHA-256-NONE'];

/** The binding each mechanism hashes in (draft-schmaus-kitten-sasl-ht-08 §2: the mechanism name's last part). */
const BINDING: Record<HtMechanism, ChannelBindingType | null> = {
  'HT-SHA-256-NONE': null,
  'HT-SHA-256-EXPR': 'tls-exporter',
  'HT-SHA-256-ENDP': 'tls-server-end-point',
};

export function isHtMechanism(name: string): name is HtMechanism {
  return Object.hasOwn(BINDING, name);
}

/** What the mechanism needs of a stored token; FastToken (storage/ports.ts) has these fields and more. */
export interface HtToken {
  /** The secret as issued; its UTF-8 bytes are the HMAC key (what @xmpp/sasl-ht-sha-256-none does). */
  token: string;
  /** The mechanism the token was issued for: each token works with that one only (XEP-0484 §3.4, draft §5). */
  mechanism: string;
  /** ms since the epoch */
  expiresAt: number;
}

/** The user's currently valid tokens (normalised localpart, as for SCRAM), e.g. the 'current' and 'new' ones. */
export type FastTokenLookup<T extends HtToken = HtToken> = (username: string) => Promise<T[]>;

export interface HtServerOptions {
  /** The connection's binding data (channel-binding.ts); required by -EXPR and -ENDP. */
  channelBinding?: (type: ChannelBindingType) => Buffer | null;
  /** Clock for expiry checks; tests replace it. */
  now?: () => number;
}

/** A mechanism instance that also tells, after success, which stored token the client proved. */
export interface HtMechanismServer<T extends HtToken = HtToken> extends SaslMechanismServer {
  /**
   * The matching token after a success, undefined before and after a failure. The caller needs it for
   * XEP-0484 §3.5 rotation: using a token invalidates the client's older ones (FastTokenStore.used).
   */
  readonly matched: T | undefined;
}

const HMAC_BYTES = 32;

/** A fresh mechanism instance for one HT exchange. */
export function createHtServer<T extends HtToken>(
  mechanism: HtMechanism,
  lookup: FastTokenLookup<T>,
  opts: HtServerOptions = {},
): HtMechanismServer<T> {
  return new HtServer(mechanism, lookup, opts);
}

class HtServer<T extends HtToken> implements HtMechanismServer<T> {
  readonly name: HtMechanism;
  readonly #lookup: FastTokenLookup<T>;
  readonly #opts: HtServerOptions;
  #state: 'new' | 'await-response' | 'done' = 'new';
  #matched: T | undefined;

  constructor(mechanism: HtMechanism, lookup: FastTokenLookup<T>, opts: HtServerOptions) {
    this.name = mechanism;
    this.#lookup = lookup;
    this.#opts = opts;
  }

  get matched(): T | undefined {
    return this.#matched;
  }

  async start(initial: Buffer | null): Promise<SaslStep> {
    if (this.#state !== 'new') return this.#fail('malformed-request', 'exchange already started');
    if (initial === null) {
      // The client always sends an initial response under SASL2; over RFC 6120 SASL it may not (§6.4.2),
      // so ask for it with an empty challenge as PLAIN does.
      this.#state = 'await-response';
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    return this.#verify(initial);
  }

  async step(response: Buffer): Promise<SaslStep> {
    if (this.#state !== 'await-response') return this.#fail('malformed-request', 'unexpected response');
    return this.#verify(response);
  }

  #fail(condition: Parameters<typeof saslFailure>[0], text?: string): SaslStep {
    this.#state = 'done';
    return saslFailure(condition, text);
  }

  /** draft-schmaus-kitten-sasl-ht-08 §3.1: initiator-msg = authcid NUL initiator-hashed-token */
  async #verify(data: Buffer): Promise<SaslStep> {
    this.#state = 'done';
    if (data.length > MAX_SASL_MESSAGE_BYTES) return this.#fail('malformed-request', 'message too long');
    // The HMAC is binary and may itself hold NUL bytes, so split at the first NUL: authcid has none.
    const nul = data.indexOf(0);
    if (nul <= 0) return this.#fail('malformed-request', 'expected authcid NUL hashed-token');
    const authcid = data.subarray(0, nul);
    const proof = data.subarray(nul + 1);
    // Draft §3.1: authcid = 1*SAFE, UTF-8 without NUL.
    if (!isUtf8(authcid)) return this.#fail('malformed-request', 'authcid is not UTF-8');
    let username: string;
    try {
      username = normalizeUsername(authcid.toString('utf8'));
    } catch {
      return this.#fail('malformed-request', 'invalid username');
    }
    if (username === '') return this.#fail('malformed-request', 'invalid username');

    const type = BINDING[this.name];
    const cbData = type === null ? NO_CB_DATA : (this.#opts.channelBinding?.(type) ?? null);
    // The stream layer should not offer -EXPR/-ENDP where the binding is unavailable (e.g. TLS 1.2 for
    // -EXPR); a client that picks one anyway asked for a mechanism this connection does not support.
    if (cbData === null) return this.#fail('invalid-mechanism', `${type} channel binding is not available`);

    let tokens: T[];
    try {
      tokens = await this.#lookup(username);
    } catch {
      return this.#fail('temporary-auth-failure');
    }
    const now = this.#opts.now?.() ?? Date.now();
    let matched: T | undefined;
    let expired = false;
    // Every candidate is hashed and compared in constant time (XEP-0484 §6), whatever matched earlier, and an
    // unknown user costs one HMAC too, so timing tells little about which tokens exist.
    // A proof of another length cannot be equal (draft §3.2: unequal values MUST fail); it is still hashed against.
    const candidates = tokens.length === 0 ? [DECOY] : tokens;
    const lengthOk = proof.length === HMAC_BYTES;
    const comparable = lengthOk ? proof : Buffer.alloc(HMAC_BYTES);
    for (const t of candidates) {
      const equal = timingSafeEqual(hashedToken(t.token, 'Initiator', cbData), comparable);
      if (!equal || !lengthOk || t === DECOY) continue;
      // XEP-0484 §3.4 and draft §5: a token used with another mechanism than its own MUST fail.
      if (t.mechanism !== this.name) continue;
      if (t.expiresAt <= now) expired = true;
      else matched ??= t as T;
    }
    if (matched === undefined) {
      // XEP-0484 §4.2: a token we no longer trust fails with credentials-expired, so the client falls back.
      return expired ? this.#fail('credentials-expired') : this.#fail('not-authorized');
    }
    this.#matched = matched;
    // Draft §3.3: the responder proves the token too, HMAC(token, "Responder" || cb-data), in <success/>.
    // (Draft §3.2 would revoke the token now; XEP-0484 §3.5 instead keeps it until a newer one is used, which
    // is the caller's job through `matched` and FastTokenStore.used.)
    return { kind: 'success', data: hashedToken(matched.token, 'Responder', cbData), username };
  }
}

/** draft-schmaus-kitten-sasl-ht-08 §3.1/§3.3: HMAC-SHA-256(key = UTF-8 of the token, msg = role || cb-data). */
export function hashedToken(token: string, role: 'Initiator' | 'Responder', cbData: Uint8Array): Buffer {
  // A KeyObject, not the Buffer: 3x cheaper in Node 24 (see scramHmac in credentials.ts).
  return createHmac('sha256', createSecretKey(Buffer.from(token, 'utf8')))
    .update(role)
    .update(cbData)
    .digest();
}

const NO_CB_DATA = Buffer.alloc(0);
/** Stand-in compared when the user has no tokens; its random secret never matches a client's proof. */
const DECOY: HtToken = { token: randomBytes(32).toString('base64'), mechanism: '', expiresAt: 0 };
