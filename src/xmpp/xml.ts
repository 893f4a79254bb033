// The one XML element type of the project: ltx's Element, through @xmpp/xml (xmpp.js's own stack).
import xml, { Element } from '@xmpp/xml';

export { Element, xml };

/** Escapes text for an attribute value or text node (same set of five entities for both). */
export function escapeXml(s: string): string {
  // Most values need no escaping; testing first is ~3.5x cheaper than a replace that finds nothing.
  return NEEDS_ESCAPE.test(s) ? s.replace(/[&<>"']/g, (c) => ESCAPES[c as keyof typeof ESCAPES]) : s;
}
const NEEDS_ESCAPE = /[&<>"']/;
const NEEDS_TEXT_ESCAPE = /[&<>]/;
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

/**
 * Child elements shared between fan-out copies (shallowCopy), with their serialisation once computed.
 * Module-level on purpose: a WeakMap keyed by element holds no stanza alive and is correct for any shard.
 */
const sharedXml = new WeakMap<Element, string>();
const UNSERIALISED = '';

/**
 * A new element with its own attributes and children list, sharing the child elements themselves (fan-out:
 * one copy per recipient). Shared children must not be changed in place afterwards (replace them instead):
 * serialize() reuses their XML for every copy.
 */
export function shallowCopy(el: Element): Element {
  const copy = new Element(el.name, { ...el.attrs });
  copy.children = [...el.children];
  for (const c of el.children) if (typeof c !== 'string' && !sharedXml.has(c as Element)) sharedXml.set(c as Element, UNSERIALISED);
  return copy;
}

/**
 * `el.toString()` (same output as ltx's writer, with escaping that skips the common case of nothing to
 * escape), except that children shared by fan-out copies are serialised once for all copies (the
 * body, stanza-id, occupant-id of a room message reach every occupant unchanged; re-escaping them per
 * copy was ~8% of a shard's CPU in the muc benchmark). Same output as ltx's writer.
 */
export function serialize(el: Element): string {
  let s = `<${el.name}`;
  for (const k in el.attrs) {
    const v: unknown = el.attrs[k];
    if (v != null) s += ` ${k}="${escapeXml(typeof v === 'string' ? v : String(v))}"`;
  }
  if (el.children.length === 0) return `${s}/>`;
  s += '>';
  for (const c of el.children) {
    if (c == null) continue;
    if (typeof c === 'string') {
      s += escapeText(c);
      continue;
    }
    const child = c as Element;
    const cached = sharedXml.get(child);
    if (cached === undefined) s += serialize(child);
    else if (cached !== UNSERIALISED) s += cached;
    else {
      const text = serialize(child);
      sharedXml.set(child, text);
      s += text;
    }
  }
  return `${s}</${el.name}>`;
}

/** Text nodes escape only what XML requires there (as ltx's escapeXMLText). */
function escapeText(s: string): string {
  return NEEDS_TEXT_ESCAPE.test(s) ? s.replace(/[&<>]/g, (c) => ESCAPES[c as keyof typeof ESCAPES]) : s;
}
