// Incremental tokenizer for the restricted XML of RFC 6120 §11, written for stream-parser.ts (which says
// why we do not use ltx). It never re-scans: text, names and attribute values are streamed into pieces
// as they arrive, and only tiny look-aheads (≤ 9 chars of markup, one reference, one XML declaration) are
// carried to the next chunk. Tags go through a resumable state machine whose inner loops keep their state
// in locals, so a tag wholly inside the buffer costs one pass. Nesting, depth, size and namespace policy
// live in the sink; character validity (XML 1.0 §2.2) is checked per chunk by the caller.
// Deliberately not done: XML 1.0 §2.11 end-of-line and §3.3.3 attribute-value normalisation, and the
// §2.4 ban on a literal ']]>' in text. Elements are passed on as XML, every receiving parser normalises
// on its own, and not normalising keeps our own serialise/parseElement round trips over the mesh exact.
import { StreamError } from './errors.ts';

/** Receives tokens. `at` is the index of a tag's '<' in `buf` (-1 if it began in an earlier chunk), `end` the index after '>'. */
export interface TokenSink {
  startTag(name: string, attrs: Record<string, string>, selfClosing: boolean, at: number, end: number): void;
  endTag(name: string, at: number, end: number): void;
  text(text: string): void;
  /** `<?…?>` before the first tag (the body between '<?' and '?>'): only an XML declaration may be accepted. */
  declaration(body: string): void;
}

// biome-ignore format: constants grouped by kind
const TEXT = 0, START_NAME = 1, TAG_WS = 2, ATTR_NAME = 3, ATTR_EQ = 4, ATTR_QUOTE = 5, ATTR_VALUE = 6, SELF_CLOSE = 7, END_NAME = 8,
  END_WS = 9, CDATA = 10; // START_NAME..END_WS are "inside a tag"
// biome-ignore format: constants grouped by kind
const GT = 62, SLASH = 47, BANG = 33, QMARK = 63, EQ = 61, DQUOTE = 34, SQUOTE = 39, LSQB = 91, RSQB = 93, HASH = 35, SPACE = 32;
const MAX_REF = 40; // longest reference we wait for ('&#x' + digits with some leading zeros); longer is refused
const MAX_DECL = 256; // longest XML declaration we wait for
const PREDEFINED: Readonly<Record<string, string | undefined>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, string>, { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }),
);

// XML 1.0 §2.3 names, as inclusive UTF-16 code-unit ranges; surrogates stand in for [#x10000-#xEFFFF].
const NAME_START = [0x3a, 0x3a, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a, 0xc0, 0xd6, 0xd8, 0xf6, 0xf8, 0x2ff, 0x370, 0x37d, 0x37f, 0x1fff];
NAME_START.push(0x200c, 0x200d, 0x2070, 0x218f, 0x2c00, 0x2fef, 0x3001, 0xdfff, 0xf900, 0xfdcf, 0xfdf0, 0xfffd);
const NAME_MORE = [0x2d, 0x2e, 0x30, 0x39, 0xb7, 0xb7, 0x300, 0x36f, 0x203f, 0x2040];
/** Class of every UTF-16 code unit (bit 1: NameStartChar, bit 2: NameChar). Filled once here, never written again. */
const NAME_CLASS = new Uint8Array(0x10000);
for (let i = 0; i < NAME_MORE.length; i += 2) NAME_CLASS.fill(2, NAME_MORE[i], (NAME_MORE[i + 1] ?? 0) + 1);
for (let i = 0; i < NAME_START.length; i += 2) NAME_CLASS.fill(3, NAME_START[i], (NAME_START[i + 1] ?? 0) + 1);

function isNameStart(c: number): boolean {
  return ((NAME_CLASS[c] ?? 0) & 1) !== 0;
}
function isNameChar(c: number): boolean {
  return (NAME_CLASS[c] ?? 0) !== 0;
}
function isWs(c: number): boolean {
  return c === SPACE || c === 10 || c === 9 || c === 13;
}
/** XML 1.0 §2.2 Char, for character references. */
function isXmlChar(cp: number): boolean {
  return cp === 9 || cp === 10 || cp === 13 || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000;
}

export function notWellFormed(text: string): StreamError {
  return new StreamError('not-well-formed', text);
}
/** RFC 6120 §11.1: comments, PIs, DTDs and non-predefined entity references MUST NOT be accepted. */
export function restricted(text: string): StreamError {
  return new StreamError('restricted-xml', text);
}

/** Decodes the body of `&…;`: XML 1.0 §4.6 predefined entities and §4.1 character references only. */
function decodeReference(ref: string): string {
  const predefined = PREDEFINED[ref];
  if (predefined !== undefined) return predefined;
  if (ref.charCodeAt(0) === HASH) {
    const hex = ref.charCodeAt(1) === 120; // 'x'
    let cp = 0;
    if (ref.length < (hex ? 3 : 2)) throw notWellFormed('empty character reference');
    for (let i = hex ? 2 : 1; i < ref.length; i++) {
      const c = ref.charCodeAt(i) | 0x20; // ASCII lower case; digits are unchanged
      const d = c >= 48 && c <= 57 ? c - 48 : hex && c >= 97 && c <= 102 ? c - 87 : -1;
      if (d < 0) throw notWellFormed('malformed character reference');
      cp = cp * (hex ? 16 : 10) + d;
      if (cp > 0x10ffff) throw notWellFormed('character reference out of range');
    }
    if (!isXmlChar(cp)) throw notWellFormed('character reference to a character XML does not allow');
    return String.fromCodePoint(cp);
  }
  let name = isNameStart(ref.charCodeAt(0));
  for (let i = 1; name && i < ref.length; i++) name = isNameChar(ref.charCodeAt(i));
  if (name) throw restricted('entity references other than the five predefined ones are not allowed (RFC 6120 §11.1)');
  throw notWellFormed('malformed entity reference');
}

/** Pieces of one text run or attribute value, joined once at the end so that long values cost linear time. */
class Pieces {
  private head = '';
  private n = -1; // pieces in `more`; -1: none at all
  private readonly more: string[] = [];
  push(s: string): void {
    if (this.n < 0) this.head = s;
    else this.more[this.n] = s;
    this.n++;
  }
  get empty(): boolean {
    return this.n < 0;
  }
  take(): string {
    let s = this.head;
    for (let i = 0; i < this.n; i++) s += this.more[i]; // appending builds a rope in V8: linear, flattened once when read
    if (this.n > 0) this.more.length = 0; // keep neither large pieces nor a large array alive
    this.head = '';
    this.n = -1;
    return s;
  }
}

/**
 * Recently seen attribute names, see setAttr. One table per thread, not per tokenizer: it only makes equal
 * names the same string, and a table per tokenizer cost every open connection (and every parsed ring frame)
 * 528 bytes.
 */
const RECENT_NAMES: string[] = new Array<string>(64).fill('');

export class XmlTokenizer {
  /** Set by the sink: true inside an element whose text is kept; false where only whitespace may appear. */
  keepText = false;
  /** The buffer being scanned: the carried look-ahead followed by the latest chunk. */
  buf = '';
  /** After write(): characters of `buf` before this index are consumed; the rest is carried to the next chunk. */
  consumed = 0;
  /** Index of the current tag's '<' in `buf`, or -1 when the tag began in an earlier chunk. */
  tagStart = -1;
  private readonly sink: TokenSink;
  private state = TEXT;
  private halted = false;
  private allowDecl = true; // an XML declaration may precede the first tag (RFC 6120 §11.5)
  private end = 0;
  private carry = '';
  private name = '';
  private attrs: Record<string, string> = {};
  private attrName = '';
  private quote = DQUOTE;
  private sawWs = false;
  private readonly text = new Pieces();
  private readonly value = new Pieces();
  private nextLt = -1; // cached index of the next '<' and '&' (the buffer length if none): each buffer is searched once
  private nextAmp = -1;

  constructor(sink: TokenSink) {
    this.sink = sink;
  }

  /** True while a start or end tag is incomplete. */
  get inTag(): boolean {
    return this.state >= START_NAME && this.state <= END_WS;
  }

  /** True when nothing is pending: no partial tag, CDATA section or look-ahead. */
  get idle(): boolean {
    return this.state === TEXT && this.carry.length === 0;
  }

  /** The stream's root tag was read elsewhere (a connection moved between shards): no declaration may follow. */
  skipProlog(): void {
    this.allowDecl = false;
  }

  /** Stops the scan at the next token (the owner was reset or closed from inside a callback). */
  halt(): void {
    this.halted = true;
  }

  /** Appends a chunk to the carried look-ahead and scans it. Throws StreamError on a violation. */
  write(chunk: string): void {
    const buf = this.carry.length > 0 ? this.carry + chunk : chunk;
    this.buf = buf;
    this.end = buf.length;
    this.carry = '';
    this.nextLt = this.nextAmp = -1;
    if (this.inTag) this.tagStart = -1;
    let pos = 0;
    while (pos < this.end && !this.halted) {
      pos = this.state === TEXT ? this.content(pos) : this.state === CDATA ? this.cdata(pos) : this.tag(pos);
      if (pos < 0) {
        // Suspended on a look-ahead at -pos - 1: keep it for the next chunk, in the same state.
        this.consumed = -pos - 1;
        this.carry = buf.slice(this.consumed);
        return;
      }
    }
    this.consumed = this.end;
  }

  /** Character data up to and including the next markup. Returns the new position, or -(pos + 1) to wait. */
  private content(pos: number): number {
    const buf = this.buf;
    pos = this.chars(pos, this.lt(pos), this.keepText ? this.text : null);
    if (pos < 0 || pos === this.end) return pos;
    if (pos + 1 === this.end) return -pos - 1;
    const c = buf.charCodeAt(pos + 1);
    if (c === SLASH || isNameStart(c)) {
      this.flushText();
      this.tagStart = pos;
      this.name = '';
      this.attrs = {};
      this.state = c === SLASH ? END_NAME : START_NAME;
      return this.tag(c === SLASH ? pos + 2 : pos + 1);
    }
    if (c === BANG) return this.bang(pos);
    if (c === QMARK) return this.decl(pos);
    throw notWellFormed("'<' must start a tag");
  }

  /**
   * Scans a start or end tag from the state saved in `this.state`, with tight loops and local state so that
   * a tag wholly inside the buffer costs one pass. Returns the index after the tag or the buffer length, or
   * -(pos + 1) to wait for the rest of a reference in an attribute value.
   */
  private tag(pos: number): number {
    const buf = this.buf;
    const end = this.end;
    let st = this.state;
    let ws = this.sawWs;
    let p = pos;
    while (p < end) {
      if (st === START_NAME || st === ATTR_NAME || st === END_NAME) {
        if (st === END_NAME && this.name.length === 0 && !isNameStart(buf.charCodeAt(p))) throw notWellFormed('malformed end tag');
        while (p < end && isNameChar(buf.charCodeAt(p))) p++;
        // A name grows by at most one piece per chunk, so += stays linear.
        if (st === ATTR_NAME) this.attrName += buf.slice(pos, p);
        else this.name += buf.slice(pos, p);
        if (p === end) break;
        ws = false;
        if (st === ATTR_NAME && p + 1 < end && buf.charCodeAt(p) === EQ) {
          // Shortcut for the usual name='value' (no spaces around '=').
          const q = buf.charCodeAt(p + 1);
          if (q === DQUOTE || q === SQUOTE) {
            this.quote = q;
            st = ATTR_VALUE;
            p += 2;
            pos = p;
            continue;
          }
        }
        st = st === START_NAME ? TAG_WS : st === ATTR_NAME ? ATTR_EQ : END_WS;
      } else if (st === ATTR_VALUE) {
        const q = buf.indexOf(this.quote === DQUOTE ? '"' : "'", p);
        const stop = q === -1 ? end : q;
        // XML 1.0 §3.1 WFC No < in Attribute Values.
        if (this.lt(p) < stop) throw notWellFormed("'<' in an attribute value");
        let value: string;
        if (q !== -1 && this.value.empty && this.amp(p) >= q) {
          value = buf.slice(p, q); // the usual case: nothing to decode
        } else {
          const next = this.chars(p, stop, this.value);
          if (next < 0 || q === -1) {
            this.state = st;
            return next;
          }
          value = this.value.take();
        }
        this.setAttr(value);
        st = TAG_WS;
        ws = false;
        p = q + 1;
        if (p + 1 < end && buf.charCodeAt(p) === SPACE && isNameStart(buf.charCodeAt(p + 1))) {
          // Shortcut for the usual single space before the next attribute.
          this.attrName = '';
          st = ATTR_NAME;
          p++;
        }
      } else {
        let c = buf.charCodeAt(p);
        if (st !== SELF_CLOSE && isWs(c)) {
          ws = true;
          do p++;
          while (p < end && isWs(buf.charCodeAt(p)));
          if (p === end) break;
          c = buf.charCodeAt(p);
        }
        if (st === TAG_WS && (c === GT || c === SLASH)) {
          if (c === GT) return this.startDone(false, p + 1);
          st = SELF_CLOSE;
        } else if (st === TAG_WS && ws && isNameStart(c)) {
          this.attrName = '';
          st = ATTR_NAME;
          pos = p;
          continue;
        } else if (st === ATTR_EQ && c === EQ) st = ATTR_QUOTE;
        else if (st === ATTR_QUOTE && (c === DQUOTE || c === SQUOTE)) {
          this.quote = c;
          st = ATTR_VALUE;
        } else if (st === SELF_CLOSE && c === GT) return this.startDone(true, p + 1);
        else if (st === END_WS && c === GT) {
          this.state = TEXT;
          this.sink.endTag(this.name, this.tagStart, p + 1);
          return p + 1;
        } else throw notWellFormed(st === END_WS ? 'malformed end tag' : st === TAG_WS ? 'malformed start tag' : 'malformed attribute');
        p++;
      }
      pos = p;
    }
    this.state = st;
    this.sawWs = ws;
    return end;
  }

  private setAttr(value: string): void {
    const attrs = this.attrs;
    let name = this.attrName;
    // Reuse the previous string of the same shape: property stores are much cheaper with an already-seen key.
    const slot = (name.length * 7 + name.charCodeAt(0)) & 63;
    const seen = RECENT_NAMES[slot];
    if (seen === name) name = seen;
    else RECENT_NAMES[slot] = name;
    // XML 1.0 §3.1 WFC Unique Att Spec. hasOwn only when needed: a plain {} inherits names like 'constructor'.
    if (attrs[name] !== undefined && Object.hasOwn(attrs, name)) throw notWellFormed('duplicate attribute');
    // '__proto__' is a legal XML name that plain assignment would swallow.
    if (name === '__proto__') Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
    else attrs[name] = value;
  }

  private startDone(selfClosing: boolean, end: number): number {
    this.state = TEXT;
    this.allowDecl = false;
    this.sink.startTag(this.name, this.attrs, selfClosing, this.tagStart, end);
    return end;
  }

  /** CDATA content: it joins the surrounding text run (RFC 6120 §11.1 does not prohibit CDATA sections). */
  private cdata(pos: number): number {
    const buf = this.buf;
    const end = this.end;
    const close = buf.indexOf(']]>', pos);
    if (close !== -1) {
      if (close > pos) this.text.push(buf.slice(pos, close));
      this.state = TEXT;
      return close + 3;
    }
    let keep = 0; // a ']' or ']]' at the end may begin ']]>'
    if (end - 1 >= pos && buf.charCodeAt(end - 1) === RSQB) keep = end - 2 >= pos && buf.charCodeAt(end - 2) === RSQB ? 2 : 1;
    if (end - keep > pos) this.text.push(buf.slice(pos, end - keep));
    return keep > 0 ? -(end - keep) - 1 : end;
  }

  /** '<!' at pos: only '<![CDATA[' is allowed; comments, DOCTYPE and other declarations violate RFC 6120 §11.1. */
  private bang(pos: number): number {
    const avail = this.end - pos;
    if (avail < 3) return -pos - 1;
    if (this.buf.charCodeAt(pos + 2) !== LSQB) throw restricted('comments, DOCTYPE and declarations are not allowed (RFC 6120 §11.1)');
    const n = Math.min(avail, 9);
    if (this.buf.slice(pos, pos + n) !== '<![CDATA['.slice(0, n)) throw notWellFormed('malformed CDATA section');
    if (n < 9) return -pos - 1;
    if (!this.keepText) throw notWellFormed('CDATA section outside a stanza');
    this.state = CDATA;
    return pos + 9;
  }

  /** '<?' at pos: RFC 6120 §11.1 prohibits processing instructions; the sink may accept an XML declaration (§11.5). */
  private decl(pos: number): number {
    if (!this.allowDecl) throw restricted('processing instructions are not allowed (RFC 6120 §11.1)');
    const close = this.buf.indexOf('?>', pos + 2);
    if (close === -1 && this.end - pos <= MAX_DECL) return -pos - 1;
    if (close === -1 || close - pos > MAX_DECL) throw notWellFormed('XML declaration too long');
    this.allowDecl = false;
    this.sink.declaration(this.buf.slice(pos + 2, close));
    return close + 2;
  }

  /**
   * Text or an attribute value in [pos, stop) into `out`, decoding references; `out` null means only
   * whitespace is allowed (between stanzas, RFC 6120 §11.7, and before the header; it is dropped, and
   * we also let it precede the XML declaration). Returns stop, or -(index of '&' + 1) to wait for the
   * rest of a reference cut by the end of the buffer.
   */
  private chars(pos: number, stop: number, out: Pieces | null): number {
    const buf = this.buf;
    while (pos < stop) {
      const amp = this.amp(pos);
      const seg = Math.min(amp, stop);
      if (out === null) {
        for (let i = pos; i < seg; i++) if (!isWs(buf.charCodeAt(i))) throw notWellFormed('text outside a stanza');
      } else if (seg > pos) out.push(buf.slice(pos, seg));
      if (seg === stop) break;
      if (out === null) throw notWellFormed('text outside a stanza');
      const semi = buf.indexOf(';', seg + 1);
      if (semi === -1 || semi > stop || semi - seg > MAX_REF) {
        if (semi === -1 && stop === this.end && stop - seg <= MAX_REF) return -seg - 1;
        throw notWellFormed("'&' must start a reference ending in ';'");
      }
      out.push(decodeReference(buf.slice(seg + 1, semi)));
      pos = semi + 1;
    }
    return stop;
  }

  private flushText(): void {
    if (!this.text.empty) this.sink.text(this.text.take());
  }

  private lt(pos: number): number {
    if (this.nextLt < pos) {
      const i = this.buf.indexOf('<', pos);
      this.nextLt = i === -1 ? this.end : i;
    }
    return this.nextLt;
  }

  private amp(pos: number): number {
    if (this.nextAmp < pos) {
      const i = this.buf.indexOf('&', pos);
      this.nextAmp = i === -1 ? this.end : i;
    }
    return this.nextAmp;
  }
}
