// RFC 7622 addresses. Normalisation here is the subset that matters for routing: localpart and
// domainpart are case-folded (NFKC + lowercase, approximating the PRECIS IdentifierClass and IDNA
// mapping), the resourcepart is kept as sent (RFC 7622 §3.4: it is case-sensitive), and the
// characters RFC 7622 §3.3.1 forbids in a localpart are rejected.

export interface Jid {
  readonly local: string; // '' when absent
  readonly domain: string;
  readonly resource: string; // '' when absent
  /** `local@domain` (or `domain`), computed once: bare JIDs key most maps on the routing path. */
  readonly bare: string;
}

const FORBIDDEN_LOCAL = /["&'/:<>@\s]/u;
const MAX_PART_BYTES = 1023;

export class JidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JidError';
  }
}

/** Printable ASCII needs no Unicode normalisation; most JIDs are, and NFKC is costly per routed stanza. */
const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;

function fold(part: string): string {
  return PRINTABLE_ASCII.test(part) ? part.toLowerCase() : part.normalize('NFKC').toLowerCase();
}

export function normalizeLocal(local: string): string {
  return fold(local);
}

/**
 * Parsed JIDs by their text. A room's fan-out parses the same few hundred occupant JIDs on every message,
 * in several hooks (bench/RESULTS.md: ~10% of a shard's CPU). Module-level on purpose: the result is a pure,
 * frozen function of the text, so shards sharing a thread (tests) can share it. Bounded by clearing.
 */
const parsed = new Map<string, Jid>();
const PARSED_MAX = 8192;

/** Parses and normalises a JID; throws JidError (callers answer `jid-malformed`). */
export function parseJid(text: string): Jid {
  const hit = parsed.get(text);
  if (hit !== undefined) return hit;
  const jid = Object.freeze(parseUncached(text));
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(text, jid);
  return jid;
}

function parseUncached(text: string): Jid {
  const slash = text.indexOf('/');
  const head = slash === -1 ? text : text.slice(0, slash);
  const resource = slash === -1 ? '' : text.slice(slash + 1);
  const at = head.lastIndexOf('@');
  const local = at === -1 ? '' : normalizeLocal(head.slice(0, at));
  let domain = fold(at === -1 ? head : head.slice(at + 1));
  if (domain.endsWith('.')) domain = domain.slice(0, -1); // RFC 7622 §3.2: strip a trailing dot
  if (domain === '' || /[\s@/]/u.test(domain)) throw new JidError(`bad domainpart in "${text}"`);
  if (at !== -1 && local === '') throw new JidError(`empty localpart in "${text}"`);
  if (FORBIDDEN_LOCAL.test(local)) throw new JidError(`forbidden character in localpart of "${text}"`);
  if (slash !== -1 && resource === '') throw new JidError(`empty resourcepart in "${text}"`);
  for (const part of [local, domain, resource]) {
    if (Buffer.byteLength(part) > MAX_PART_BYTES) throw new JidError(`part longer than ${MAX_PART_BYTES} bytes`);
  }
  return jid(local, domain, resource);
}

export function tryParseJid(text: string | undefined): Jid | undefined {
  if (text === undefined) return undefined;
  try {
    return parseJid(text);
  } catch {
    return undefined;
  }
}

/**
 * The bare JID's text. The same string object every time for a parsed JID, so a Map lookup with it
 * hashes once instead of building and hashing a new string per call (several per routed stanza).
 */
export function bareOf(jid: Jid): string {
  return jid.bare;
}

export function fullOf(jid: Jid): string {
  return jid.resource ? `${bareOf(jid)}/${jid.resource}` : bareOf(jid);
}

export function jid(local: string, domain: string, resource = ''): Jid {
  return { local, domain, resource, bare: local ? `${local}@${domain}` : domain };
}
