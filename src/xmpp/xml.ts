// The one XML element type of the project: ltx's Element, through @xmpp/xml (xmpp.js's own stack).
import xml, { Element } from '@xmpp/xml';

export { Element, xml };

/** Escapes text for an attribute value or text node (same set of five entities for both). */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c as keyof typeof ESCAPES]);
}
const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' } as const;
