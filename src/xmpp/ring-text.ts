// The XML a stanza arrived with over a ring, reused when that stanza is written out unchanged.
//
// Why: a message between users homed on different shards is serialised by the sender's home for the ring
// and parsed by the recipient's home (parseSerialized), which then used to serialise it again for the
// recipient's socket, and the TLS engine flattened that freshly concatenated string once more: ~0.75 µs per
// message that a single shard does not pay twice (bench/RESULTS.md, "Session 6"). The ring text is exactly
// what serialize() would write for the parsed element (parseSerialized reads only serialize()'s output,
// and the round trip is tested), and it is already one flat string.
//
// "Unchanged" is checked at the root: same name, same attributes, same children (the same child elements
// and the same text nodes, in order). Hooks that change a stanza add, remove or replace children, or set
// root attributes, which the check sees; a child element is never changed in place (the same rule
// fan-out copies rely on, see shallowCopy in xml.ts), so its identity stands for its content.
import { type Element, serialize } from './xml.ts';

interface RingText {
  el: Element | null;
  text: string;
  name: string;
  attrs: Readonly<Record<string, unknown>>;
  attrCount: number;
  children: readonly (Element | string)[];
}

/**
 * One slot, for the stanza being delivered now: a routed stanza is written out within the call that read
 * it off the ring unless a hook holds it, and then the slot has moved on and serialize() runs as before.
 * A WeakMap keyed by element kept every entry for the element's life and made V8's scavenges process it
 * as an ephemeron table: peak RSS 430 → 725 MB and twice the GC time in `direct` with 4 workers.
 */
const last: RingText = { el: null, text: '', name: '', attrs: {}, attrCount: 0, children: [] };

/** Records that `el` was parsed from `text` (serialize()'s output read off a ring). */
export function rememberRingText(el: Element, text: string): void {
  let attrCount = 0;
  for (const _ in el.attrs) attrCount++;
  last.el = el;
  last.text = text;
  last.name = el.name;
  last.attrs = { ...el.attrs };
  last.attrCount = attrCount;
  last.children = el.children.slice();
}

function unchanged(el: Element, r: RingText): boolean {
  if (el.name !== r.name || el.children.length !== r.children.length) return false;
  for (let i = 0; i < r.children.length; i++) if (el.children[i] !== r.children[i]) return false;
  let n = 0;
  for (const k in el.attrs) {
    if (el.attrs[k] !== r.attrs[k]) return false;
    n++;
  }
  return n === r.attrCount;
}

/** serialize(el), or the ring text it arrived with when nothing has changed it since. */
export function stanzaText(el: Element): string {
  return last.el === el && unchanged(el, last) ? last.text : serialize(el);
}
