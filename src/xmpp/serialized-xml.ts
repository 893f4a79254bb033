// Parses XML that serialize() (xml.ts) wrote: the stanzas shards pass each other over the rings.
//
// Why not the stream parser: every byte on a ring was written by serialize() from an element that the
// hardened parser (stream-parser.ts) or our own code built, so the checks that protect the server from
// clients (restricted XML, size and depth limits, character classes, split UTF-8) would only be repeated.
// serialize()'s output is a small, fixed subset: `<name k="v"…>`, `/>` for empty elements, attribute values
// and text escaped with the five predefined entities, no comments, CDATA, declarations or whitespace inside
// tags. Reading just that with indexOf is ~3x cheaper than tokenizing (bench/RESULTS.md, "Session 5"), and a
// ring hop's parse was most of what a message pays for crossing shards. Anything outside the subset throws.

import { Element } from './xml.ts';

const GT = 62;
const SLASH = 47;
const SPACE = 32;
const QUOTE = 34;

const ENTITY = /&(amp|lt|gt|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  if (s.indexOf('&') === -1) return s;
  return s.replace(ENTITY, (_, ref: string) => {
    const named = NAMED[ref];
    if (named !== undefined) return named;
    return String.fromCodePoint(ref.charCodeAt(1) === 120 ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10));
  });
}

function malformed(at: number): Error {
  return new Error(`ERR_SERIALIZED_XML: not serialize() output at offset ${at}`);
}

/** The element serialize() wrote as `text`. Throws on anything serialize() does not write. */
export function parseSerialized(text: string): Element {
  const stack: Element[] = [];
  let root: Element | null = null;
  let pos = 0;
  const end = text.length;
  while (pos < end) {
    const lt = text.indexOf('<', pos);
    const parent = stack[stack.length - 1];
    if (lt !== pos) {
      if (parent === undefined || lt === -1) throw malformed(pos);
      parent.children.push(unescapeXml(text.slice(pos, lt)));
    }
    if (text.charCodeAt(lt + 1) === SLASH) {
      const el = stack.pop();
      const gt = lt + 2 + (el === undefined ? 0 : el.name.length);
      if (el === undefined || text.charCodeAt(gt) !== GT || !text.startsWith(el.name, lt + 2)) throw malformed(lt);
      pos = gt + 1;
      if (stack.length === 0) break;
      continue;
    }
    if (root !== null && parent === undefined) throw malformed(lt); // a second root
    let i = lt + 1;
    for (let c = text.charCodeAt(i); c !== SPACE && c !== SLASH && c !== GT; c = text.charCodeAt(++i)) {
      if (i >= end) throw malformed(lt);
    }
    const el = new Element(text.slice(lt + 1, i));
    const attrs: Record<string, string> = {};
    while (text.charCodeAt(i) === SPACE) {
      const eq = text.indexOf('=', i + 1);
      const close = eq === -1 || text.charCodeAt(eq + 1) !== QUOTE ? -1 : text.indexOf('"', eq + 2);
      if (close === -1) throw malformed(i);
      const name = text.slice(i + 1, eq);
      const value = unescapeXml(text.slice(eq + 2, close));
      // '__proto__' is a legal XML name that plain assignment would swallow (as in the stream parser).
      if (name === '__proto__') Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
      else attrs[name] = value;
      i = close + 1;
    }
    el.attrs = attrs;
    if (parent === undefined) root = el;
    else {
      parent.children.push(el);
      el.parent = parent;
    }
    if (text.charCodeAt(i) === SLASH) {
      if (text.charCodeAt(i + 1) !== GT) throw malformed(i);
      pos = i + 2;
      if (stack.length === 0) break;
    } else if (text.charCodeAt(i) === GT) {
      stack.push(el);
      pos = i + 1;
    } else throw malformed(i);
  }
  if (root === null || stack.length > 0 || pos !== end) throw malformed(pos);
  return root;
}
