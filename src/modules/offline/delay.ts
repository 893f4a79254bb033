// XEP-0203 Delayed Delivery: the <delay/> a server adds to a stanza it held back.
import { NS } from '../../xmpp/ns.ts';
import { type Element, xml } from '../../xmpp/xml.ts';

/**
 * XEP-0203 §3: 'from' is the entity that delayed the stanza (here the server's domain), 'stamp' the
 * UTC time it was originally received, in XEP-0082 DateTime format (toISOString() gives
 * CCYY-MM-DDThh:mm:ss.sssZ, which XEP-0082 allows). XEP-0160 §2's example adds the text
 * "Offline Storage", which is optional natural-language description.
 */
export function delayElement(from: string, stampMs: number, reason?: string): Element {
  const el = xml('delay', { xmlns: NS.DELAY, from, stamp: new Date(stampMs).toISOString() });
  if (reason) el.t(reason);
  return el;
}
