// The one XML element type of the project: ltx's Element, through @xmpp/xml (xmpp.js's own stack).
import xml, { Element } from '@xmpp/xml';

export { Element, xml };

/** Escapes text for an attribute value or text node (same set of five entities for both). */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c as keyof typeof ESCAPES]);
}
const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' } as const;

/** A deep copy (attributes copied, text shared: strings are immutable). ltx's clone(), typed. */
export function cloneElement(el: Element): Element {
  const copy = new Element(el.name, { ...el.attrs });
  for (const child of el.children) copy.children.push(typeof child === 'string' ? child : withParent(cloneElement(child as Element), copy));
  return copy;
}

function withParent(child: Element, parent: Element): Element {
  child.parent = parent;
  return child;
}
