// RFC 5802 SCRAM-SHA-1 and RFC 7677 SCRAM-SHA-256, server side, as SASL mechanisms for RFC 6120 §6, with
// the channel-binding variants SCRAM-SHA-1-PLUS / SCRAM-SHA-256-PLUS (RFC 5802 §6) over the TLS binding
// types of channel-binding.ts (RFC 9266 tls-exporter, RFC 5929 tls-server-end-point).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { type ChannelBindingType, isChannelBindingType } from './channel-binding.ts';
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
  decodeBase64Strict,
  normalizeUsername,
  saslFailure,
  saslText,
  scramDigest,
  scramHmac,
} from './credentials.ts';

// The mechanism contract lives in credentials.ts (shared with PLAIN); re-exported for callers of SCRAM.
export type { CredentialLookup, SaslFailureCondition, SaslMechanismServer, SaslStep } from './credentials.ts';

export interface ScramServerOptions extends AuthzidOptions {
  /**
   * Secret from which fake salts for unknown users are derived, so the exchange does not reveal whether
   * a user exists before the proof step (a random salt per attempt would: ask twice and compare). Pass a
   * persistent secret shared by all shards: without one, each thread uses its own random secret, so an
   * unknown user's salt changes between shards and restarts and gives it away.
   */
  secret?: Uint8Array;
  /**
   * Whether this connection advertises SCRAM-*-PLUS. Then a client's 'y' flag on a non-PLUS mechanism means
   * an attacker stripped -PLUS from the offer, and RFC 5802 §6 requires failing.
   */
  plusAdvertised?: boolean;
  /** This instance is SCRAM-<hash>-PLUS: the client MUST bind the channel ('p=' flag, RFC 5802 §6). */
  plus?: boolean;
  /**
   * The channel-binding data of this connection for a type, or null when unavailable (see
   * channelBindingData in channel-binding.ts). Needed for `plus`; without it every -PLUS attempt fails.
   */
  channelBinding?: (type: ChannelBindingType) => Buffer | null;
  /** Produces the server's part of the nonce; only tests replace it (to replay RFC example exchanges). */
  serverNonce?: () => string;
}

/** Per-thread fallback for ScramServerOptions.secret; never mutated. */
const THREAD_FAKE_SALT_SECRET = randomBytes(32);
const FAKE_SALT_BYTES = 16;

/** State kept between server-first-message and client-final-message. */
interface PendingExchange {
  readonly username: string;
  readonly authzid: string;
  readonly gs2Header: string;
  /** Channel-binding data for the 'p=' flag (RFC 5802 §6), empty for 'n' and 'y'. */
  readonly cbData: Buffer;
  readonly clientFirstBare: string;
  readonly serverFirst: string;
  readonly nonce: string;
  /** undefined for unknown users: the exchange continues with a fake salt and fails at the proof. */
  readonly creds: ScramCredentials | undefined;
}

type Gs2Header = { ok: true; header: string; authzid: string; bare: string; cbData: Buffer } | { ok: false; step: SaslStep };

/**
 * A fresh mechanism instance for one SCRAM exchange with `hash`: SCRAM-SHA-1 or SCRAM-SHA-256, or their
 * -PLUS variants with `options.plus` (then `options.channelBinding` supplies the connection's binding data).
 */
export function createScramServer(hash: ScramHash, lookup: CredentialLookup, options: ScramServerOptions = {}): SaslMechanismServer {
  return new ScramServer(hash, lookup, options);
}

class ScramServer implements SaslMechanismServer {
  readonly name: string;
  readonly #hash: ScramHash;
  readonly #lookup: CredentialLookup;
  readonly #options: ScramServerOptions;
  #state: 'new' | 'await-client-first' | 'await-client-final' | 'done' = 'new';
  #pending: PendingExchange | undefined;

  constructor(hash: ScramHash, lookup: CredentialLookup, options: ScramServerOptions) {
    this.name = options.plus === true ? `SCRAM-${hash}-PLUS` : `SCRAM-${hash}`;
    this.#hash = hash;
    this.#lookup = lookup;
    this.#options = options;
  }

  async start(initial: Buffer | null): Promise<SaslStep> {
    if (this.#state !== 'new') return this.#fail('malformed-request', 'exchange already started');
    if (initial === null) {
      // RFC 6120 §6.4.2: SCRAM is client-first; without an initial response we send an empty
      // challenge and the client-first-message arrives as the first <response/>.
      this.#state = 'await-client-first';
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    return this.#clientFirst(initial);
  }

  async step(response: Buffer): Promise<SaslStep> {
    if (this.#state === 'await-client-first') return this.#clientFirst(response);
    if (this.#state === 'await-client-final') return this.#clientFinal(response);
    return this.#fail('malformed-request', 'unexpected response');
  }

  #fail(condition: Parameters<typeof saslFailure>[0], text?: string): SaslStep {
    this.#state = 'done';
    this.#pending = undefined;
    return saslFailure(condition, text);
  }

  /** RFC 5802 §7 client-first-message = gs2-header client-first-message-bare. */
  async #clientFirst(data: Buffer): Promise<SaslStep> {
    const text = scramText(data);
    if (text === undefined) return this.#fail('malformed-request', 'not a SCRAM message');
    const gs2 = this.#parseGs2Header(text);
    if (!gs2.ok) return gs2.step;
    const attrs = splitAttributes(gs2.bare);
    if (!attrs) return this.#fail('malformed-request', 'malformed client-first-message');
    // RFC 5802 §5.1: a mandatory extension 'm' we do not understand MUST fail the exchange.
    if (attrs.some((a) => a.name === 'm')) return this.#fail('malformed-request', 'unsupported mandatory extension');
    const [user, nonce] = attrs;
    if (user?.name !== 'n' || nonce?.name !== 'r') return this.#fail('malformed-request', 'expected n= and r=');
    const rawName = decodeSaslname(user.value);
    if (rawName === undefined || rawName === '') return this.#fail('malformed-request', 'invalid username encoding');
    if (!PRINTABLE.test(nonce.value)) return this.#fail('malformed-request', 'invalid nonce');
    let username: string;
    try {
      // RFC 5802 §5.1: the server SHOULD prepare the username with SASLprep.
      username = normalizeUsername(rawName);
    } catch {
      return this.#fail('malformed-request', 'invalid username');
    }
    if (username === '') return this.#fail('malformed-request', 'invalid username');

    let creds: ScramCredentials | undefined;
    try {
      creds = (await this.#lookup(username))?.[this.#hash];
    } catch {
      return this.#fail('temporary-auth-failure');
    }
    if (this.#state === 'done') return saslFailure('aborted'); // aborted while the lookup ran
    const salt = creds?.salt ?? this.#fakeSalt(username);
    const iterations = creds?.iterations ?? DEFAULT_ITERATIONS;
    const fullNonce = nonce.value + (this.#options.serverNonce?.() ?? randomBytes(18).toString('base64'));
    const serverFirst = `r=${fullNonce},s=${salt},i=${iterations}`;
    this.#pending = {
      username,
      authzid: gs2.authzid,
      gs2Header: gs2.header,
      cbData: gs2.cbData,
      clientFirstBare: gs2.bare,
      serverFirst,
      nonce: fullNonce,
      creds,
    };
    this.#state = 'await-client-final';
    return { kind: 'challenge', data: Buffer.from(serverFirst, 'utf8') };
  }

  /** RFC 5802 §7 gs2-header = gs2-cbind-flag "," [ authzid ] "," */
  #parseGs2Header(text: string): Gs2Header {
    const first = text.indexOf(',');
    const second = first === -1 ? -1 : text.indexOf(',', first + 1);
    if (second === -1) return { ok: false, step: this.#fail('malformed-request', 'missing gs2 header') };
    const flag = text.slice(0, first);
    const authzField = text.slice(first + 1, second);
    let cbData: Buffer = NO_CB_DATA;
    if (this.#options.plus === true) {
      const cb = this.#plusBinding(flag);
      if (!cb.ok) return cb;
      cbData = cb.data;
    } else if (flag.startsWith('p=')) {
      // The client wants channel binding, which only the -PLUS mechanisms do (RFC 5802 §6).
      return { ok: false, step: this.#fail('malformed-request', 'channel binding is not supported by this mechanism') };
    } else if (flag !== 'n' && flag !== 'y') {
      return { ok: false, step: this.#fail('malformed-request', 'invalid gs2-cbind-flag') };
    } else if (flag === 'y' && this.#options.plusAdvertised === true) {
      // RFC 5802 §6: 'y' while we advertise -PLUS means the offer was tampered with: MUST fail.
      return { ok: false, step: this.#fail('not-authorized', 'channel binding downgrade') };
    }
    let authzid = '';
    if (authzField !== '') {
      const decoded = authzField.startsWith('a=') ? decodeSaslname(authzField.slice(2)) : undefined;
      if (decoded === undefined || decoded === '') return { ok: false, step: this.#fail('malformed-request', 'invalid authzid') };
      authzid = decoded;
    }
    return { ok: true, header: text.slice(0, second + 1), authzid, bare: text.slice(second + 1), cbData };
  }

  /**
   * RFC 5802 §6: a -PLUS mechanism means the client binds the channel, so the flag MUST be 'p=' cb-name with
   * a type this connection can produce; 'n' or 'y' on -PLUS contradicts the client's own choice and fails.
   */
  #plusBinding(flag: string): { ok: true; data: Buffer } | { ok: false; step: SaslStep } {
    if (!flag.startsWith('p=')) return { ok: false, step: this.#fail('malformed-request', 'a -PLUS mechanism requires channel binding') };
    const type = flag.slice(2);
    // RFC 5802 §7 cb-name = 1*(ALPHA / DIGIT / "." / "-")
    if (!CB_NAME.test(type)) return { ok: false, step: this.#fail('malformed-request', 'invalid cb-name') };
    const data = isChannelBindingType(type) ? (this.#options.channelBinding?.(type) ?? null) : null;
    // RFC 5802 §5.1 "unsupported-channel-binding-type": we cannot answer with e= before server-first, so the
    // exchange fails here; XEP-0440 tells clients beforehand which types we offer.
    if (data === null) return { ok: false, step: this.#fail('malformed-request', `unsupported channel binding type ${type}`) };
    return { ok: true, data };
  }

  /** RFC 5802 §7 client-final-message = channel-binding "," nonce ["," extensions] "," proof */
  async #clientFinal(data: Buffer): Promise<SaslStep> {
    const pending = this.#pending;
    if (!pending) return this.#fail('malformed-request');
    const text = scramText(data);
    const attrs = text === undefined ? undefined : splitAttributes(text);
    if (text === undefined || !attrs) return this.#fail('malformed-request', 'malformed client-final-message');
    if (attrs.some((a) => a.name === 'm')) return this.#fail('malformed-request', 'unsupported mandatory extension');
    const cbind = attrs[0];
    const nonce = attrs[1];
    const proof = attrs[attrs.length - 1];
    if (attrs.length < 3 || cbind?.name !== 'c' || nonce?.name !== 'r' || proof?.name !== 'p') {
      return this.#fail('malformed-request', 'expected c=, r= and p=');
    }
    const cbindBytes = decodeBase64Strict(cbind.value);
    const proofBytes = decodeBase64Strict(proof.value);
    if (!cbindBytes || !proofBytes || proofBytes.length !== SCRAM_HASH_BYTES[this.#hash]) {
      return this.#fail('malformed-request', 'invalid base64 in c= or p=');
    }
    // RFC 5802 §5.1 'c': the server MUST check the channel-binding input (gs2 header, then binding data).
    if (!cbindBytes.equals(channelBindingInput(pending.gs2Header, pending.cbData))) {
      return this.#fail('not-authorized', 'channel binding mismatch');
    }
    // RFC 5802 §5.1 'r': the nonce MUST be the one from server-first-message.
    if (nonce.value !== pending.nonce) return this.#fail('not-authorized', 'nonce mismatch');
    if (!pending.creds) return this.#fail('not-authorized');

    const storedKey = decodeBase64Strict(pending.creds.storedKey);
    const serverKey = decodeBase64Strict(pending.creds.serverKey);
    if (!storedKey || !serverKey) return this.#fail('temporary-auth-failure', 'stored credentials are corrupt');
    // RFC 5802 §3: AuthMessage := client-first-message-bare + "," + server-first-message + "," +
    // client-final-message-without-proof; the proof is the last attribute, so cut at its ",p=".
    const withoutProof = text.slice(0, text.length - proof.value.length - 3);
    const authMessage = `${pending.clientFirstBare},${pending.serverFirst},${withoutProof}`;
    const clientSignature = scramHmac(this.#hash, storedKey, authMessage);
    const clientKey = xor(proofBytes, clientSignature);
    const computed = scramDigest(this.#hash, clientKey);
    if (computed.length !== storedKey.length || !timingSafeEqual(computed, storedKey)) return this.#fail('not-authorized');
    if (!authzidAllowed(pending.authzid, pending.username, this.#options)) return this.#fail('invalid-authzid');

    const serverSignature = scramHmac(this.#hash, serverKey, authMessage);
    this.#state = 'done';
    this.#pending = undefined;
    // RFC 5802 §5.1 server-final-message "v=" ServerSignature, carried in <success/> (RFC 6120 §6.3.10).
    return { kind: 'success', data: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'), username: pending.username };
  }

  /** Deterministic per (hash, username), so repeated probes of an unknown user see a stable salt. */
  #fakeSalt(username: string): string {
    const secret = this.#options.secret ?? THREAD_FAKE_SALT_SECRET;
    return scramHmac('SHA-256', secret, `scram-fake-salt\0${this.#hash}\0${username}`).subarray(0, FAKE_SALT_BYTES).toString('base64');
  }
}

/** RFC 5802 §7 cbind-input = gs2-header [ cbind-data ]: the data only when the flag is 'p='. */
function channelBindingInput(gs2Header: string, cbData: Buffer): Buffer {
  const header = Buffer.from(gs2Header, 'utf8');
  return cbData.length === 0 ? header : Buffer.concat([header, cbData]);
}

const NO_CB_DATA = Buffer.alloc(0);
const CB_NAME = /^[A-Za-z0-9.-]+$/;

/** RFC 5802 §7 printable = %x21-2B / %x2D-7E (no comma). */
const PRINTABLE = /^[\x21-\x2B\x2D-\x7E]+$/;
/** RFC 5802 §7 saslname: "," and "=" only as =2C and =3D; any other "=" MUST fail (§5.1). */
const SASLNAME = /^(?:[^=,]|=2C|=3D)*$/;
const ATTRIBUTE = /^([A-Za-z])=(.*)$/s;

function decodeSaslname(value: string): string | undefined {
  if (!SASLNAME.test(value)) return undefined;
  return value.replace(/=2C|=3D/g, (esc) => (esc === '=2C' ? ',' : '='));
}

/** UTF-8 text of a SCRAM message; NUL is not a value-char (RFC 5802 §7). */
function scramText(data: Buffer): string | undefined {
  const text = saslText(data);
  return text === undefined || text.includes('\0') ? undefined : text;
}

/** Splits `a=x,b=y` into attributes; undefined when any part is not `ALPHA "=" value`. */
function splitAttributes(text: string): { name: string; value: string }[] | undefined {
  const out: { name: string; value: string }[] = [];
  for (const part of text.split(',')) {
    const m = ATTRIBUTE.exec(part);
    if (!m || m[1] === undefined || m[2] === undefined) return undefined;
    out.push({ name: m[1], value: m[2] });
  }
  return out;
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}
