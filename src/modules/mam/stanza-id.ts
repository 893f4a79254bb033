// XEP-0359 Unique and Stable Stanza IDs: the <stanza-id/> an archive stamps and the client's <origin-id/>. Pure.
import { randomUUID } from 'node:crypto';
import { tryParseJid, fullOf } from '../../xmpp/jid.ts';
import { type Element, xml } from '../../xmpp/xml.ts';

export const SID_NS = 'urn:xmpp:sid:0';

/**
 * A fresh archive id. XEP-0359 §4: unique and stable; XEP-0313 §3: "MUST be unpredictable". A random v4 UUID
 * (122 random bits from the CSPRNG) is both, and needs no coordination between shards.
 */
export function newStanzaId(): string {
  return randomUUID();
}

/** True when the element's 'by' names `by` (both normalised: a spoofer may vary the case of the JID). */
function isBy(el: Element, by: string): boolean {
  const claimed = tryParseJid(el.attrs.by as string | undefined);
  const want = tryParseJid(by);
  return claimed !== undefined && want !== undefined && fullOf(claimed) === fullOf(want);
}

/**
 * XEP-0359 §5 (Security Considerations): an entity that stamps stanza-ids "MUST remove" any <stanza-id/> with its
 * own JID in 'by' that it did not add, or a sender could forge the recipient's archive id. Removes them all,
 * in place; returns how many there were.
 */
export function stripStanzaIds(stanza: Element, by: string): number {
  // Runs on every message, several times; nearly none carries a stanza-id, so look before filtering.
  if (!hasStanzaIdChild(stanza)) return 0;
  const before = stanza.children.length;
  stanza.children = stanza.children.filter(
    (c) => typeof c === 'string' || c.name !== 'stanza-id' || c.attrs.xmlns !== SID_NS || !isBy(c, by),
  );
  return before - stanza.children.length;
}

function hasStanzaIdChild(stanza: Element): boolean {
  for (const c of stanza.children) if (typeof c !== 'string' && c.name === 'stanza-id') return true;
  return false;
}

/** Adds `<stanza-id xmlns='urn:xmpp:sid:0' by=… id=…/>` after removing any other claiming the same 'by' (§5). */
export function stampStanzaId(stanza: Element, by: string, id: string): void {
  stripStanzaIds(stanza, by);
  stanza.append(xml('stanza-id', { xmlns: SID_NS, by, id }));
}

/** XEP-0359 §3.2: the id the sending client put in <origin-id/>, if any. The server never changes it. */
export function originIdOf(stanza: Element): string | undefined {
  const id = stanza.getChild('origin-id', SID_NS)?.attrs.id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}
