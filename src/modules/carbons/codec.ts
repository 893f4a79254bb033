// XEP-0280 (Message Carbons) and XEP-0297 (Stanza Forwarding) wire format: the <sent/>/<received/>
// wrappers and the <private/> opt-out. Pure functions, no I/O.
import { Element, xml } from '../../xmpp/xml.ts';

/** Namespaces this module reads or writes (kept here rather than in the shared NS, which others own). */
export const CARBONS_NS = {
  CARBONS: 'urn:xmpp:carbons:2',
  /** XEP-0280 §3 / §6: advertises that the server applies the §6 eligibility rules as written. */
  RULES: 'urn:xmpp:carbons:rules:0',
  FORWARD: 'urn:xmpp:forward:0',
  /** XEP-0334 Message Processing Hints (<no-copy/>). */
  HINTS: 'urn:xmpp:hints',
  CLIENT: 'jabber:client',
} as const;

export type CarbonDirection = 'sent' | 'received';

/**
 * One forwarded copy (XEP-0280 §7 received, §8 sent):
 *
 *   <message from='user@domain' to='user@domain/other' type='(same)'>
 *     <sent|received xmlns='urn:xmpp:carbons:2'>
 *       <forwarded xmlns='urn:xmpp:forward:0'>
 *         <message xmlns='jabber:client' …original…/>
 *
 * `forwarded` comes from {@link forwardedCopy}, built once per original and shared by every wrapper:
 * the wrappers are only ever serialised, never changed after they are handed to a session.
 */
export function buildCarbon(direction: CarbonDirection, owner: string, to: string, type: string | undefined, forwarded: Element): Element {
  // §7/§8: 'from' MUST be the user's bare JID, 'to' the full JID of the copy's resource, and the
  // wrapper SHOULD keep the original 'type' (absent stays absent, which RFC 6121 §5.2.2 reads as normal).
  const attrs: Record<string, string> = { from: owner, to };
  if (type !== undefined) attrs.type = type;
  return xml('message', attrs, xml(direction, { xmlns: CARBONS_NS.CARBONS }, forwarded));
}

/**
 * XEP-0297 §3: the <forwarded/> element around a deep copy of the original, which carries its own
 * xmlns='jabber:client' (XEP-0280 §7 examples) so it reads the same wherever the wrapper travels.
 * A copy, because the original is still being delivered and must not change under its recipients.
 */
export function forwardedCopy(original: Element): Element {
  const inner = copyElement(original);
  inner.attrs.xmlns = CARBONS_NS.CLIENT;
  return xml('forwarded', { xmlns: CARBONS_NS.FORWARD }, inner);
}

/** XEP-0280 §9: the sender's opt-out for one message. */
export function hasPrivate(stanza: Element): boolean {
  return stanza.getChild('private', CARBONS_NS.CARBONS) !== undefined;
}

/**
 * XEP-0280 §9: "the receiving server ... SHOULD remove the <private/> element before delivering to
 * the recipient". Returns whether there was one.
 */
export function stripPrivate(stanza: Element): boolean {
  if (!hasPrivate(stanza)) return false;
  stanza.remove('private', CARBONS_NS.CARBONS);
  return true;
}

/** A message that is itself a carbon (or claims to be one). */
export function isCarbon(stanza: Element): boolean {
  return stanza.getChild('sent', CARBONS_NS.CARBONS) !== undefined || stanza.getChild('received', CARBONS_NS.CARBONS) !== undefined;
}

// ltx's clone() is not exported by @xmpp/xml, and modules import XML only through src/xmpp/xml.ts.
function copyElement(el: Element): Element {
  const copy = new Element(el.name, el.attrs);
  for (const child of el.children) copy.append(typeof child === 'string' ? child : copyElement(child));
  return copy;
}
