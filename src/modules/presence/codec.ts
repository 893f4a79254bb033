// Presence stanza helpers (RFC 6121 §4.7): priority, and per-recipient copies. Presence stays a plain
// element otherwise: <show/>, <status/>, XEP-0115 <c/> and any extension are forwarded untouched.
import { Element, xml } from '../../xmpp/xml.ts';

/** §4.7.2.3: an integer from -128 to +127, 0 when absent. Out-of-range values are clamped, junk counts as 0. */
export function parsePriority(presence: Element): number {
  const text = presence.getChildText('priority');
  if (text === null) return 0;
  const trimmed = text.trim();
  if (!/^[+-]?\d{1,10}$/.test(trimmed)) return 0;
  return Math.max(-128, Math.min(127, Number(trimmed)));
}

/**
 * A deep copy with new addresses. Every recipient gets its own copy because a delivered stanza may be
 * held (CSI buffering, the mesh) while the next one is addressed.
 */
export function readdress(el: Element, from: string, to: string | undefined): Element {
  const copy = copyElement(el);
  copy.attrs.from = from;
  if (to === undefined) delete copy.attrs.to;
  else copy.attrs.to = to;
  return copy;
}

/** The presence kept in SessionRecord.presence: the client's stanza without addresses or id. */
export function storedPresence(el: Element): Element {
  const copy = copyElement(el);
  delete copy.attrs.to;
  delete copy.attrs.from;
  delete copy.attrs.id;
  return copy;
}

export function unavailable(from: string, to: string): Element {
  return xml('presence', { from, to, type: 'unavailable' });
}

// ltx's own clone() is not exported by @xmpp/xml, and modules import XML only through src/xmpp/xml.ts.
function copyElement(el: Element): Element {
  const copy = new Element(el.name, el.attrs);
  for (const child of el.children) copy.append(typeof child === 'string' ? child : copyElement(child as Element));
  return copy;
}
