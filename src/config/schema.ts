// Server configuration: the Config type, its defaults, and the checks every value must pass.
// load.ts reads the TOML file and the environment and applies these checks; the result is
// validated once at boot, deep-frozen and passed down (never imported globally).
//
// Validation is hand-written rather than done with a schema library: the whole schema is a
// dozen scalar fields, no schema library is a dependency of the project, and the checks
// below must produce messages that name the key and the problem, which is all this file does.

import { createSecureContext } from 'node:tls';
import { networkInterfaces } from 'node:os';
import { domainToASCII } from 'node:url';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  /** The XMPP domain this server is authoritative for (RFC 7622 §3.2 domainpart, lowercased). */
  domain: string;
  /** Absolute path; relative values are resolved against the working directory. */
  dataDir: string;
  /** Number of shard worker threads, 1..256. */
  workers: number;
  c2s: {
    host: string;
    /** Plain TCP with STARTTLS (RFC 6120 §5). 0 means "any free port" (tests). */
    port: number;
    /** Direct TLS (XEP-0368). 0 means "any free port". */
    tlsPort: number;
    /** Refuse to authenticate before STARTTLS (RFC 6120 §5.3.1 mandatory-to-negotiate). */
    requireTls: boolean;
    /** RFC 6120 §13.12: a server MUST accept stanzas of at least 10,000 bytes. */
    maxStanzaBytes: number;
    idleTimeoutSec: number;
    /**
     * Move a bound connection to its session's home shard (socket and TLS state), so its stanzas stop
     * crossing a ring twice. Needs the lean TLS addon (node:tls connections stay where they are).
     */
    moveToHome: boolean;
  };
  http: { host: string; port: number };
  /**
   * PEM file paths; both null → a self-signed certificate in <dataDir>/tls. `groups`: the TLS key-exchange
   * groups in order of preference (OpenSSL syntax, e.g. "X25519:P-256"); null → OpenSSL's default list.
   * `engine`: who terminates client TLS: 'lean' (src/tls/lean, ~20 KB less memory per connection),
   * 'node' (node:tls), or 'auto' (lean when its addon is built, else node with a warning).
   * `handOff` (lean only): after a TLS 1.3 handshake, free OpenSSL's per-connection state and protect
   * records with the addon's own record layer (src/tls/lean/record_layer.c, ~20 KB less per connection).
   */
  tls: { key: string | null; cert: string | null; groups: string | null; engine: TlsEngine; handOff: boolean };
  /** XEP-0077 in-band registration. */
  registration: boolean;
  /** Bare JIDs (lowercased) with administrative rights. */
  admins: string[];
  /** Offline message store; 0 disables storing messages for offline users. */
  offline: { maxPerUser: number };
  /** XEP-0198: how long a dropped session waits for resumption, and how many unacknowledged stanzas it may hold. */
  streamManagement: { resumeTimeoutSec: number; maxUnacked: number };
  /**
   * XEP-0313 message archives. `enabled` false turns archiving off (throughput benchmarks);
   * `defaultPolicy` applies to users who never set preferences (XEP-0313 §6: always / roster / never);
   * `retentionDays` 0 keeps messages forever (per-Waddle retention overrides it for room archives).
   */
  archive: {
    enabled: boolean;
    defaultPolicy: 'always' | 'roster' | 'never';
    retentionDays: number;
    maxPageSize: number;
    sweepIntervalSec: number;
  };
  /**
   * XEP-0045 group chat: `historyMessages` is what a joining occupant gets at most (rooms may configure less);
   * `createRooms` who may create ad-hoc rooms on conference.<domain>: 'anyone' (local users) or 'admins'.
   */
  muc: { historyMessages: number; maxOccupants: number; createRooms: 'anyone' | 'admins' };
  /** Bytes per shard-to-shard SharedArrayBuffer ring. */
  ringBytes: number;
  log: { level: LogLevel };
  /** otlpEndpoint null → tracing is initialised but exports nothing. */
  telemetry: { otlpEndpoint: string | null; serviceName: string };
}

/**
 * Wildcard listen address. '::' accepts IPv4 too on a dual-stack host (Linux defaults to
 * IPV6_V6ONLY=0), but listening on it fails where IPv6 is disabled at boot; such hosts
 * have no IPv6 address at all, so any IPv6 address (even ::1) means '::' is safe.
 */
export function wildcardHost(): string {
  const addrs = Object.values(networkInterfaces()).flat();
  return addrs.some((a) => a?.family === 'IPv6') ? '::' : '0.0.0.0';
}

export type TlsEngine = 'auto' | 'lean' | 'node';

/** Defaults that do not depend on the machine (workers, hosts and dataDir are filled by load.ts). */
export const DEFAULTS = {
  domain: 'localhost',
  dataDir: './data',
  c2s: { port: 5222, tlsPort: 5223, requireTls: true, maxStanzaBytes: 262_144, idleTimeoutSec: 300, moveToHome: true },
  http: { port: 5280 },
  tls: { engine: 'auto', handOff: true },
  registration: false,
  offline: { maxPerUser: 1000 },
  streamManagement: { resumeTimeoutSec: 300, maxUnacked: 5000 },
  archive: { enabled: true, defaultPolicy: 'always', retentionDays: 0, maxPageSize: 250, sweepIntervalSec: 3600 },
  muc: { historyMessages: 20, maxOccupants: 1000, createRooms: 'anyone' },
  ringBytes: 1_048_576,
  log: { level: 'info' },
  telemetry: { serviceName: 'waddle' },
} as const;

/** Thrown by a check; load.ts prefixes the file/env source and key. */
export class InvalidValue extends Error {
  override readonly name = 'InvalidValue';
}

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

export function checkString(v: unknown): string {
  if (typeof v !== 'string') throw new InvalidValue(`expected a string, got ${show(v)}`);
  return v;
}

export function checkNonEmpty(v: unknown): string {
  const s = checkString(v);
  if (s.length === 0) throw new InvalidValue('must not be empty');
  return s;
}

export function checkBool(v: unknown): boolean {
  if (typeof v !== 'boolean') throw new InvalidValue(`expected true or false, got ${show(v)}`);
  return v;
}

export function checkInt(min: number, max: number): (v: unknown) => number {
  return (v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new InvalidValue(`expected an integer from ${min} to ${max}, got ${show(v)}`);
    }
    return v;
  };
}

export const checkPort = checkInt(0, 65_535);

/** An OpenSSL group list ("X25519:P-256"): checked by building a TLS context with it, as the shards will. */
export function checkTlsGroups(v: unknown): string {
  const s = checkNonEmpty(v);
  try {
    createSecureContext({ ecdhCurve: s });
  } catch {
    throw new InvalidValue(`not a list of TLS groups OpenSSL knows: ${show(s)} (e.g. "X25519:P-256")`);
  }
  return s;
}

export function checkOneOf<T extends string>(values: readonly T[]): (v: unknown) => T {
  return (v) => {
    const found = values.find((x) => x === v);
    if (found === undefined) throw new InvalidValue(`expected one of ${values.join(', ')}, got ${show(v)}`);
    return found;
  };
}

export function checkLogLevel(v: unknown): LogLevel {
  const level = LOG_LEVELS.find((l) => l === v);
  if (level === undefined) throw new InvalidValue(`expected one of ${LOG_LEVELS.join(', ')}, got ${show(v)}`);
  return level;
}

/** An http(s) URL: the OTLP/HTTP base endpoint, to which /v1/traces is appended. */
export function checkHttpUrl(v: unknown): string {
  const s = checkString(v);
  const url = URL.parse(s);
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InvalidValue(`expected an http:// or https:// URL, got ${show(s)}`);
  }
  return s;
}

/**
 * RFC 7622 §3.2: a domainpart is an IP literal or a fully qualified domain name (IDNA2008
 * labels, at most 1023 bytes) and is compared case-insensitively, so it is stored lowercased.
 * WHATWG domainToASCII applies IDNA (UTS #46) and returns '' for names it rejects; the label
 * rules (LDH, 1-63 octets, no leading or trailing hyphen) are then checked on the ASCII form.
 */
export function checkDomain(v: unknown): string {
  const domain = checkNonEmpty(v).normalize('NFC').toLowerCase();
  if (Buffer.byteLength(domain) > 1023) throw new InvalidValue('domain is longer than 1023 bytes');
  const ascii = domainToASCII(domain);
  const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
  if (ascii === '' || ascii.length > 253 || !ascii.split('.').every((l) => label.test(l))) {
    throw new InvalidValue(`not a valid domain name: ${show(v)}`);
  }
  return domain;
}

// RFC 7622 §3.3.1: these characters are disallowed in a localpart.
const LOCALPART_FORBIDDEN = /["&'/:<>@\s]/u;

/** A bare JID `local@domain` (no resource), lowercased as PRECIS UsernameCaseMapped would for ASCII. */
export function checkBareJid(v: unknown): string {
  const jid = checkNonEmpty(v).normalize('NFC');
  const at = jid.indexOf('@');
  if (at <= 0 || jid.includes('/')) throw new InvalidValue(`expected a bare JID like user@domain, got ${show(v)}`);
  const local = jid.slice(0, at);
  if (LOCALPART_FORBIDDEN.test(local) || Buffer.byteLength(local) > 1023) {
    throw new InvalidValue(`invalid localpart in ${show(v)}`);
  }
  let domain: string;
  try {
    domain = checkDomain(jid.slice(at + 1));
  } catch {
    throw new InvalidValue(`invalid domain in ${show(v)}`);
  }
  return `${local.toLowerCase()}@${domain}`;
}

export function checkList<T>(item: (v: unknown) => T): (v: unknown) => T[] {
  return (v) => {
    if (!Array.isArray(v)) throw new InvalidValue(`expected an array, got ${show(v)}`);
    const bad: string[] = [];
    const out: T[] = [];
    for (const [i, el] of v.entries()) {
      try {
        out.push(item(el));
      } catch (e) {
        bad.push(`[${i}] ${(e as Error).message}`);
      }
    }
    if (bad.length > 0) throw new InvalidValue(bad.join('; '));
    return out;
  };
}
