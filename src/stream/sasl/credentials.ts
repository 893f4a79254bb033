// RFC 5802 §3 / RFC 7677: salted SCRAM credentials, the key math shared by the SASL mechanisms, and the
// contract every server-side mechanism implements (RFC 6120 §6). Passwords are never stored: only
// salt, iteration count, StoredKey and ServerKey, from which a SCRAM login needs no PBKDF2 at all.
import { createHash, createHmac, createSecretKey, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { promisify } from 'node:util';
// RFC 4013 SASLprep from a maintained library (used by the MongoDB driver) rather than our own tables.
import { saslprep } from '@mongodb-js/saslprep';

export type ScramHash = 'SHA-1' | 'SHA-256';

/** One SCRAM verifier (RFC 5802 §3): everything the server keeps for one hash function. */
export interface ScramCredentials {
  /** base64 */
  salt: string;
  iterations: number;
  /** base64 of H(HMAC(SaltedPassword, "Client Key")) */
  storedKey: string;
  /** base64 of HMAC(SaltedPassword, "Server Key") */
  serverKey: string;
}

export type StoredCredentials = Record<ScramHash, ScramCredentials>;

/** Finds the stored credentials of a normalised username (see normalizeUsername); undefined if unknown. */
export type CredentialLookup = (username: string) => Promise<StoredCredentials | undefined>;

/** RFC 6120 §6.5 SASL failure conditions. */
export type SaslFailureCondition =
  | 'aborted'
  | 'account-disabled'
  | 'credentials-expired'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'mechanism-too-weak'
  | 'not-authorized'
  | 'temporary-auth-failure';

/**
 * What a mechanism answers to the client's last message. `data` is raw bytes: the stream layer
 * base64-encodes it (see encodeSaslPayload). `username` on success is the normalised localpart.
 */
export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; data: Buffer | null; username: string }
  | { kind: 'failure'; condition: SaslFailureCondition; text?: string };

/**
 * One authentication exchange on the server side. Create a fresh instance per <auth/>: instances hold
 * the state of a single exchange. `start` gets the initial response (null if the client sent none,
 * an empty Buffer for "="); `step` gets each <response/>. After success or failure the instance is spent.
 */
export interface SaslMechanismServer {
  readonly name: string;
  start(initial: Buffer | null): Promise<SaslStep>;
  step(response: Buffer): Promise<SaslStep>;
}

/** Options shared by the mechanisms that check an authorization identity. */
export interface AuthzidOptions {
  /** Our domain: when set, an authzid equal to the bare JID `username@domain` is accepted too. */
  domain?: string;
}

const DIGEST: Record<ScramHash, 'sha1' | 'sha256'> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' };
/** Output length of each hash, which is also the length of ClientProof (RFC 5802 §3). */
export const SCRAM_HASH_BYTES: Record<ScramHash, number> = { 'SHA-1': 20, 'SHA-256': 32 };
export const DEFAULT_ITERATIONS = 4096; // RFC 7677 §4: at least 4096
const SALT_BYTES = 16;
/** Largest client message we parse; real ones are well under 1 KB. Bounds work for hostile input. */
export const MAX_SASL_MESSAGE_BYTES = 4096;
const pbkdf2Async = promisify(pbkdf2);

export class SaslprepError extends Error {
  readonly code = 'ERR_SASLPREP';
  constructor(what: string, cause: unknown) {
    super(`${what} is not allowed by SASLprep (RFC 4013): ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'SaslprepError';
  }
}

/**
 * RFC 5802 §2.2 Normalize(): SASLprep with unassigned code points allowed ("query" strings), the same
 * for registration and login so both sides always derive the same bytes. Throws SaslprepError on
 * prohibited characters (RFC 4013 §2.3) or bidi violations.
 */
export function saslPrep(input: string, what = 'string'): string {
  try {
    return saslprep(input, { allowUnassigned: true });
  } catch (err) {
    throw new SaslprepError(what, err);
  }
}

/**
 * The account key for a SASL username. XMPP localparts are case-insensitive (RFC 7622 §3.3,
 * UsernameCaseMapped), so we SASLprep (which maps to NFKC and removes soft hyphens etc.), lowercase,
 * and NFKC again because lowercasing can leave a string that is no longer normalised. This is an
 * approximation of the PRECIS profile that agrees with it for practically all real usernames.
 * Throws SaslprepError when the name cannot be prepared.
 */
export function normalizeUsername(username: string): string {
  return saslPrep(username, 'username').toLowerCase().normalize('NFKC');
}

export function scramHmac(hash: ScramHash, key: Uint8Array, data: string | Uint8Array): Buffer {
  // Through a KeyObject: Node 24's createHmac takes ~12 µs with a Buffer key and ~4 µs with
  // createSecretKey(key) (measured on these machines), and a login computes several.
  return createHmac(DIGEST[hash], createSecretKey(key)).update(data).digest();
}

export function scramDigest(hash: ScramHash, data: Uint8Array): Buffer {
  return createHash(DIGEST[hash]).update(data).digest();
}

/**
 * RFC 5802 §3 Hi(Normalize(password), salt, i), which is PBKDF2 with HMAC-H. Async crypto.pbkdf2 runs
 * on libuv's pool, so the shard's event loop stays free (~0.65 ms CPU for 4096 rounds of SHA-256).
 */
export async function saltedPassword(password: string, salt: Uint8Array, iterations: number, hash: ScramHash): Promise<Buffer> {
  return pbkdf2Async(saslPrep(password, 'password'), salt, iterations, SCRAM_HASH_BYTES[hash], DIGEST[hash]);
}

/** RFC 5802 §3: StoredKey := H(HMAC(SaltedPassword, "Client Key")), ServerKey := HMAC(SaltedPassword, "Server Key"). */
function keysOf(hash: ScramHash, salted: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = scramHmac(hash, salted, 'Client Key');
  return { storedKey: scramDigest(hash, clientKey), serverKey: scramHmac(hash, salted, 'Server Key') };
}

/** Derives one verifier with a given salt (registration uses random salts; tests use RFC vectors). */
export async function deriveScramCredentials(
  password: string,
  hash: ScramHash,
  salt: Uint8Array,
  iterations = DEFAULT_ITERATIONS,
): Promise<ScramCredentials> {
  const keys = keysOf(hash, await saltedPassword(password, salt, iterations, hash));
  return {
    salt: Buffer.from(salt).toString('base64'),
    iterations,
    storedKey: keys.storedKey.toString('base64'),
    serverKey: keys.serverKey.toString('base64'),
  };
}

/**
 * Credentials to store for a new password: one verifier per hash, each with its own random 16-byte
 * salt. Throws SaslprepError if the password cannot be prepared (RFC 5802 §5.1: the exchange would
 * fail anyway), so callers should refuse such a password at registration.
 */
export async function deriveCredentials(password: string, iterations = DEFAULT_ITERATIONS): Promise<StoredCredentials> {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`invalid SCRAM iteration count ${iterations}`);
  const [sha1, sha256] = await Promise.all([
    deriveScramCredentials(password, 'SHA-1', randomBytes(SALT_BYTES), iterations),
    deriveScramCredentials(password, 'SHA-256', randomBytes(SALT_BYTES), iterations),
  ]);
  return { 'SHA-1': sha1, 'SHA-256': sha256 };
}

/**
 * Checks a plaintext password (SASL PLAIN, password change) against a stored verifier by recomputing
 * StoredKey and comparing in constant time. False (never a throw) for passwords SASLprep rejects.
 */
export async function verifyPassword(password: string, creds: ScramCredentials, hash: ScramHash): Promise<boolean> {
  const salt = decodeBase64Strict(creds.salt);
  const stored = decodeBase64Strict(creds.storedKey);
  if (!salt || !stored || stored.length !== SCRAM_HASH_BYTES[hash]) return false;
  let salted: Buffer;
  try {
    salted = await saltedPassword(password, salt, creds.iterations, hash);
  } catch (err) {
    if (err instanceof SaslprepError) return false;
    throw err;
  }
  return timingSafeEqual(keysOf(hash, salted).storedKey, stored);
}

/**
 * RFC 6120 §6.4.3/§6.5.x: may the authenticated `username` act as `authzid`? The empty authzid means
 * "derive it from the authentication identity" (RFC 6120 §6.3.8). We allow only the user itself: the
 * bare localpart, or `username@domain` when the caller told us the domain. Anything else (including
 * another user, a full JID with a resource, or an unprepared name) is invalid-authzid.
 */
export function authzidAllowed(authzid: string, username: string, options: AuthzidOptions): boolean {
  if (authzid === '') return true;
  const at = authzid.indexOf('@');
  const local = at === -1 ? authzid : authzid.slice(0, at);
  const domain = at === -1 ? undefined : authzid.slice(at + 1);
  let normalized: string;
  try {
    normalized = normalizeUsername(local);
  } catch {
    return false;
  }
  if (normalized !== username) return false;
  if (domain === undefined) return true;
  return options.domain !== undefined && domain.toLowerCase() === options.domain.toLowerCase();
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * RFC 4648 §4 base64 with padding, rejecting anything else (RFC 4648 §3.3: implementations MUST
 * reject non-alphabet characters). Node's Buffer.from(…, 'base64') silently skips junk, hence this.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

/** Decoded payload of <auth/>, <response/>: `data: null` for no character data at all. */
export type SaslPayload = { ok: true; data: Buffer | null } | { ok: false; condition: 'incorrect-encoding' };

/**
 * RFC 6120 §6.4.2: an empty element carries no response, a single "=" a zero-length one, anything else
 * must be valid base64 or the exchange fails with <incorrect-encoding/> (§6.5.5).
 */
export function decodeSaslPayload(text: string): SaslPayload {
  if (text === '') return { ok: true, data: null };
  if (text === '=') return { ok: true, data: Buffer.alloc(0) };
  const data = decodeBase64Strict(text);
  return data ? { ok: true, data } : { ok: false, condition: 'incorrect-encoding' };
}

/** Inverse of decodeSaslPayload for <challenge/> and <success/> (RFC 6120 §6.4.2, §6.3.10). */
export function encodeSaslPayload(data: Buffer | null): string {
  if (data === null) return '';
  return data.length === 0 ? '=' : data.toString('base64');
}

/** UTF-8 text of a SASL message, or undefined if it is too long or not valid UTF-8. */
export function saslText(data: Buffer): string | undefined {
  if (data.length > MAX_SASL_MESSAGE_BYTES || !isUtf8(data)) return undefined;
  return data.toString('utf8');
}

/** Helper to build failure steps without setting `text: undefined` (exactOptionalPropertyTypes). */
export function saslFailure(condition: SaslFailureCondition, text?: string): SaslStep {
  return text === undefined ? { kind: 'failure', condition } : { kind: 'failure', condition, text };
}
