// RFC 4616 SASL PLAIN, server side, checked against the stored SCRAM verifiers (we keep no plaintext).
// The stream layer must offer PLAIN only on encrypted streams (RFC 6120 §6.4.1 / RFC 4616 §6).
import {
  type AuthzidOptions,
  type CredentialLookup,
  DEFAULT_ITERATIONS,
  SCRAM_HASH_BYTES,
  type SaslMechanismServer,
  type SaslStep,
  type ScramCredentials,
  type ScramHash,
  authzidAllowed,
  normalizeUsername,
  saslFailure,
  saslText,
  verifyPassword,
} from './credentials.ts';

/**
 * Options for PLAIN. `domain`: see AuthzidOptions. Without it only an empty authzid or one equal to the
 * username is accepted, since the mechanism alone cannot tell which domain a bare JID must name.
 */
export type PlainServerOptions = AuthzidOptions;

/** A fresh mechanism instance for one PLAIN exchange. */
export function createPlainServer(lookup: CredentialLookup, options: PlainServerOptions = {}): SaslMechanismServer {
  return new PlainServer(lookup, options);
}

/** Verifier used to spend the same PBKDF2 time on unknown users as on known ones. */
const DUMMY_CREDENTIALS: ScramCredentials = {
  salt: Buffer.alloc(16).toString('base64'),
  iterations: DEFAULT_ITERATIONS,
  storedKey: Buffer.alloc(SCRAM_HASH_BYTES['SHA-256']).toString('base64'),
  serverKey: Buffer.alloc(SCRAM_HASH_BYTES['SHA-256']).toString('base64'),
};

class PlainServer implements SaslMechanismServer {
  readonly name = 'PLAIN';
  readonly #lookup: CredentialLookup;
  readonly #options: PlainServerOptions;
  #state: 'new' | 'await-response' | 'done' = 'new';

  constructor(lookup: CredentialLookup, options: PlainServerOptions) {
    this.#lookup = lookup;
    this.#options = options;
  }

  async start(initial: Buffer | null): Promise<SaslStep> {
    if (this.#state !== 'new') return this.#fail('malformed-request', 'exchange already started');
    if (initial === null) {
      // RFC 6120 §6.4.2 / RFC 4616 §2: no initial response, so ask for it with an empty challenge.
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

  /** RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd */
  async #verify(data: Buffer): Promise<SaslStep> {
    this.#state = 'done';
    const text = saslText(data);
    const parts = text?.split('\0');
    if (parts?.length !== 3) return this.#fail('malformed-request', 'expected authzid NUL authcid NUL passwd');
    const [authzid = '', authcid = '', password = ''] = parts;
    // RFC 4616 §2: authcid and passwd are 1*SAFE, i.e. never empty.
    if (authcid === '' || password === '') return this.#fail('malformed-request', 'empty authcid or password');
    let username: string;
    try {
      username = normalizeUsername(authcid);
    } catch {
      return this.#fail('malformed-request', 'invalid username');
    }
    if (username === '') return this.#fail('malformed-request', 'invalid username');

    let stored: { creds: ScramCredentials; hash: ScramHash } | undefined;
    try {
      stored = pickVerifier(await this.#lookup(username));
    } catch {
      return this.#fail('temporary-auth-failure');
    }
    // Unknown users still pay one PBKDF2 so response time does not tell which accounts exist.
    const ok = await verifyPassword(password, stored?.creds ?? DUMMY_CREDENTIALS, stored?.hash ?? 'SHA-256');
    if (!stored || !ok) return this.#fail('not-authorized');
    // Checked only after the password, so the authzid rule reveals nothing to an unauthenticated peer.
    if (!authzidAllowed(authzid, username, this.#options)) return this.#fail('invalid-authzid');
    return { kind: 'success', data: null, username };
  }
}

/** Prefer the SHA-256 verifier; accounts migrated from elsewhere may only have SHA-1. */
function pickVerifier(
  creds: Partial<Record<ScramHash, ScramCredentials>> | undefined,
): { creds: ScramCredentials; hash: ScramHash } | undefined {
  if (creds?.['SHA-256']) return { creds: creds['SHA-256'], hash: 'SHA-256' };
  if (creds?.['SHA-1']) return { creds: creds['SHA-1'], hash: 'SHA-1' };
  return undefined;
}
