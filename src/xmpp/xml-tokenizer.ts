// Incremental tokenizer for the restricted XML of RFC 6120 §11 (XMPP streams).
//
// Why hand-written instead of ltx / @xmpp/xml, saxes or node-expat (measured in FACTS.md): none of them
// enforces RFC 6120 §11.1 (comments, PIs and DTDs pass; ltx drops the stream after <!DOCTYPE), node-expat
// expands billion-laughs entities, ltx throws out of write() on an unknown entity and re-scans its whole
// pending remainder on every chunk (quadratic: 1 MB of text blocks the thread for 0.1 s). This tokenizer
// never re-scans: text, names and attribute values are streamed into pieces as they arrive, and only
// tiny look-aheads (≤ 9 chars of markup, one reference, one XML declaration) are carried to the next chunk.
// A tag that lies wholly in the buffer takes a straight-line fast path; one cut by a chunk boundary goes
// through the resumable state machine.
//
// It only produces tokens; nesting, depth, size and namespace policy live in the sink (stream-parser.ts).
// Character validity (XML 1.0 §2.2) is checked per chunk by the caller with one regular expression.
import { StreamError } from './errors.ts';

/** Receives tokens. `at` is the index of a tag's '<' in `buf` (-1 if it began in an earlier chunk), `end` the index after '>'. */
export interface TokenSink {
  startTag(name: string, attrs: Record<string, string>, selfClosing: boolean, at: number, end: number): void;
  endTag(name: string, at: number, end: number): void;
  text(text: string): void;
}

// States; START_NAME..END_WS are "inside a tag".
const TEXT = 0, START_NAME = 1, TAG_WS = 2, ATTR_NAME = 3, ATTR_EQ = 4, ATTR_QUOTE = 5, ATTR_VALUE = 6,
  SELF_CLOSE = 7, END_NAME = 8, END_WS = 9, CDATA = 10;
const GT = 62, SLASH = 47, BANG = 33, QMARK = 63, EQ = 61, DQUOTE = 34, SQUOTE = 39, LSQB = 91, RSQB = 93,
  HASH = 35, LF = 10, CR = 13;
const MAX_REF = 40; // longest reference we wait for ('&#x' + digits with some leading zeros); longer is refused
const MAX_DECL = 256; // longest XML declaration we wait for
const CDATA_OPEN = '<![CDATA[';
const CRLF = /\r\n?/g; // replace() with a /g regex resets lastIndex, so sharing these two is stateless
const TAB_LF = /[\t\n]/g;
// XML 1.0 §2.8 XMLDecl, accepting XML 1.0 5th edition's `1.x` versions.
const XML_DECL =
  /^\s+version\s*=\s*(?:'1\.[0-9]+'|"1\.[0-9]+")(?:\s+encoding\s*=\s*(?:'([A-Za-z][\w.-]*)'|"([A-Za-z][\w.-]*)"))?(?:\s+standalone\s*=\s*(?:'(?:yes|no)'|"(?:yes|no)"))?\s*$/;
// Slots of the "next occurrence" cache.
const N_LT = 0, N_AMP = 1, N_CR = 2, N_CDEND = 3, N_WS = 4;

/** ASCII name characters, XML 1.0 §2.3 (bit 1: NameStartChar, bit 2: NameChar). Filled once, never written again. */
const ASCII_NAME = Uint8Array.from({ length: 128 }, (_, c) => {
  const start = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 58 || c === 95;
  return start ? 3 : (c >= 48 && c <= 57) || c === 45 || c === 46 ? 2 : 0;
});
/** XML 1.0 §2.3 NameStartChar beyond ASCII. UTF-16 surrogates stand in for [#x10000-#xEFFFF]. */
function nonAsciiNameStart(c: number): boolean {
  return (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xf6) || (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) || (c >= 0x37f && c <= 0x1fff) || c === 0x200c || c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) || (c >= 0x2c00 && c <= 0x2fef) || (c >= 0x3001 && c <= 0xdfff) ||
    (c >= 0xf900 && c <= 0xfdcf) || (c >= 0xfdf0 && c <= 0xfffd);
}
function isNameStart(c: number): boolean {
  return c < 128 ? (ASCII_NAME[c]! & 1) !== 0 : nonAsciiNameStart(c);
}
function isNameChar(c: number): boolean {
  if (c < 128) return ASCII_NAME[c]! > 1;
  return nonAsciiNameStart(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040;
}
function isWs(c: number): boolean {
  return c === 32 || c === LF || c === 9 || c === CR;
}
/** XML 1.0 §2.2 Char, for character references. */
function isXmlChar(cp: number): boolean {
  return cp === 9 || cp === LF || cp === CR || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff);
}

export function notWellFormed(text: string): StreamError {
  return new StreamError('not-well-formed', text);
}
/** RFC 6120 §11.1: comments, PIs, DTDs and non-predefined entity references MUST NOT be accepted. */
function restricted(text: string): StreamError {
  return new StreamError('restricted-xml', text);
}

/** Decodes the body of `&…;`: XML 1.0 §4.6 predefined entities and §4.1 character references only. */
function decodeReference(ref: string): string {
  switch (ref) {
    case 'lt': return '<';
    case 'gt': return '>';
    case 'amp': return '&';
    case 'quot': return '"';
    case 'apos': return "'";
  }
  if (ref.charCodeAt(0) === HASH) {
    const hex = ref.charCodeAt(1) === 120; // 'x'
    let cp = 0;
    let i = hex ? 2 : 1;
    if (i >= ref.length) throw notWellFormed('empty character reference');
    for (; i < ref.length; i++) {
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
  private has = false;
  private readonly more: string[] = [];
  push(s: string): void {
    if (this.has) this.more.push(s);
    else {
      this.head = s;
      this.has = true;
    }
  }
  get empty(): boolean {
    return !this.has;
  }
  take(): string {
    const head = this.head;
    this.head = '';
    this.has = false;
    if (this.more.length === 0) return head;
    const s = head + this.more.join('');
    this.more.length = 0;
    return s;
  }
}

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
  private crPending = false; // the last raw piece ended in CR (XML 1.0 §2.11: CR LF is one line break)
  private brackets = 0; // trailing ']' of text at the end of the last buffer, for ']]>' split across chunks
  private readonly text = new Pieces();
  private readonly value = new Pieces();
  private readonly next = new Int32Array(5); // cached next index of '<', '&', CR, ']]>', [\t\n\r] (end if none)
  private readonly wsRe = /[\t\n\r]/g; // per instance: exec() keeps state in lastIndex
  private readonly names: string[] = new Array<string>(64).fill(''); // recent attribute names, see setAttr

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
    this.next.fill(-1);
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
    const n = this.end;
    if (this.state === TEXT && this.keepText && n > 0 && buf.charCodeAt(n - 1) === RSQB) {
      this.brackets = n > 1 ? (buf.charCodeAt(n - 2) === RSQB ? 2 : 1) : this.brackets > 0 ? 2 : 1;
    } else this.brackets = 0;
    this.consumed = n;
  }

  /** Character data up to and including the next markup. Returns the new position, or -(pos + 1) to wait. */
  private content(pos: number): number {
    const buf = this.buf;
    const lt = this.find(N_LT, '<', pos);
    while (pos < lt) {
      const amp = this.find(N_AMP, '&', pos);
      const stop = amp < lt ? amp : lt;
      if (stop > pos) this.rawText(pos, stop);
      pos = stop;
      if (pos < lt) {
        if (!this.keepText) throw notWellFormed('text outside a stanza');
        const next = this.reference(pos, lt, false);
        if (next < 0) return next;
        pos = next;
      }
    }
    if (pos === this.end) return pos;
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
            pos = p += 2;
            continue;
          }
        }
        st = st === START_NAME ? TAG_WS : st === ATTR_NAME ? ATTR_EQ : END_WS;
      } else if (st === ATTR_VALUE) {
        const q = buf.indexOf(this.quote === DQUOTE ? '"' : "'", p);
        const stop = q === -1 ? end : q;
        // XML 1.0 §3.1 WFC No < in Attribute Values.
        if (this.find(N_LT, '<', p) < stop) throw notWellFormed("'<' in an attribute value");
        let value: string;
        if (q !== -1 && this.value.empty && !this.crPending && this.find(N_AMP, '&', p) >= q && this.wsFrom(p) >= q) {
          value = buf.slice(p, q); // the usual case: nothing to decode or normalise
        } else {
          const next = this.valuePieces(p, stop);
          if (next < 0 || q === -1) {
            this.state = st;
            return next;
          }
          value = this.value.take();
          this.crPending = false;
        }
        this.setAttr(value);
        st = TAG_WS;
        ws = false;
        p = q + 1;
        if (p + 1 < end && buf.charCodeAt(p) === 32 && isNameStart(buf.charCodeAt(p + 1))) {
          // Shortcut for the usual single space before the next attribute.
          this.attrName = '';
          st = ATTR_NAME;
          p++;
        }
      } else {
        let c = buf.charCodeAt(p);
        if (st !== SELF_CLOSE && isWs(c)) {
          ws = true;
          while (++p < end && isWs(buf.charCodeAt(p)));
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
    const seen = this.names[slot];
    if (seen === name) name = seen;
    else this.names[slot] = name;
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
      if (close > pos) this.cdataText(pos, close);
      this.crPending = false;
      this.state = TEXT;
      return close + 3;
    }
    let keep = 0; // a ']' or ']]' at the end may begin ']]>'
    if (end - 1 >= pos && buf.charCodeAt(end - 1) === RSQB) keep = end - 2 >= pos && buf.charCodeAt(end - 2) === RSQB ? 2 : 1;
    if (end - keep > pos) this.cdataText(pos, end - keep);
    return keep > 0 ? -(end - keep) - 1 : end;
  }

  /** '<!' at pos: only '<![CDATA[' is allowed; comments, DOCTYPE and other declarations violate RFC 6120 §11.1. */
  private bang(pos: number): number {
    const avail = this.end - pos;
    if (avail < 3) return -pos - 1;
    if (this.buf.charCodeAt(pos + 2) !== LSQB) throw restricted('comments, DOCTYPE and declarations are not allowed (RFC 6120 §11.1)');
    const n = avail < 9 ? avail : 9;
    if (this.buf.slice(pos, pos + n) !== CDATA_OPEN.slice(0, n)) throw notWellFormed('malformed CDATA section');
    if (n < 9) return -pos - 1;
    if (!this.keepText) throw notWellFormed('CDATA section outside a stanza');
    this.crPending = false; // CR LF pairs only join when adjacent in the input
    this.state = CDATA;
    return pos + 9;
  }

  /** '<?' at pos: an XML declaration before the first tag (RFC 6120 §11.5) or a prohibited PI (§11.1). */
  private decl(pos: number): number {
    const buf = this.buf;
    const avail = this.end - pos;
    const pi = 'processing instructions are not allowed (RFC 6120 §11.1)';
    if (!this.allowDecl || !buf.startsWith('<?xml'.slice(0, avail < 5 ? avail : 5), pos)) throw restricted(pi);
    if (avail < 6) return -pos - 1;
    if (!isWs(buf.charCodeAt(pos + 5))) throw restricted(pi);
    const close = buf.indexOf('?>', pos + 5);
    if (close === -1 && avail <= MAX_DECL) return -pos - 1;
    if (close === -1 || close - pos > MAX_DECL) throw notWellFormed('XML declaration too long');
    const m = XML_DECL.exec(buf.slice(pos + 5, close));
    if (m === null) throw notWellFormed('malformed XML declaration');
    const encoding = m[1] ?? m[2];
    // RFC 6120 §11.6: UTF-8 only; a peer that declares another encoding gets <unsupported-encoding/>.
    if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') {
      throw new StreamError('unsupported-encoding', 'only UTF-8 is allowed (RFC 6120 §11.6)');
    }
    this.allowDecl = false;
    return close + 2;
  }

  /** Attribute value pieces in [pos, stop). Returns stop, or -(pos + 1) to wait for the rest of a reference. */
  private valuePieces(pos: number, stop: number): number {
    while (pos < stop) {
      const amp = this.find(N_AMP, '&', pos);
      const seg = amp < stop ? amp : stop;
      if (seg > pos) {
        let s = this.buf.slice(pos, seg);
        if (this.crPending || this.wsFrom(pos) < seg) s = this.eol(s, true);
        if (s.length > 0) this.value.push(s);
      }
      pos = seg;
      if (pos < stop) {
        const next = this.reference(pos, stop, true);
        if (next < 0) return next;
        pos = next;
      }
    }
    return stop;
  }

  /** '&' at pos in text or a value ending at stop. Returns the index after ';', or -(pos + 1) to wait. */
  private reference(pos: number, stop: number, inAttr: boolean): number {
    const semi = this.buf.indexOf(';', pos + 1);
    if (semi === -1 || semi > stop || semi - pos > MAX_REF) {
      if (semi === -1 && stop === this.end && stop - pos <= MAX_REF) return -pos - 1;
      throw notWellFormed("'&' must start a reference ending in ';'");
    }
    const ch = decodeReference(this.buf.slice(pos + 1, semi));
    this.crPending = false;
    (inAttr ? this.value : this.text).push(ch);
    return semi + 1;
  }

  private rawText(a: number, b: number): void {
    const buf = this.buf;
    if (!this.keepText) {
      // Outside stanzas only whitespace (keepalives) may appear; it is dropped.
      for (let i = a; i < b; i++) if (!isWs(buf.charCodeAt(i))) throw notWellFormed('text outside a stanza');
      return;
    }
    // XML 1.0 §2.4: ']]>' must not appear literally in character data, also when split across chunks.
    const br = a === 0 ? this.brackets : 0;
    if (this.find(N_CDEND, ']]>', a) + 3 <= b || (br > 0 && buf.startsWith(br === 2 ? '>' : ']>', a))) {
      throw notWellFormed("']]>' in text");
    }
    this.cdataText(a, b);
  }

  private cdataText(a: number, b: number): void {
    let s = this.buf.slice(a, b);
    if (this.crPending || this.find(N_CR, '\r', a) < b) s = this.eol(s, false);
    if (s.length > 0) this.text.push(s);
  }

  /** XML 1.0 §2.11 line ends (CR LF and CR become LF) and §3.3.3 attribute-value normalisation (tab, LF → space). */
  private eol(s: string, attr: boolean): string {
    if (this.crPending) {
      this.crPending = false;
      if (s.charCodeAt(0) === LF) s = s.slice(1);
    }
    if (s.length > 0 && s.charCodeAt(s.length - 1) === CR) this.crPending = true;
    s = s.replace(CRLF, attr ? ' ' : '\n');
    return attr ? s.replace(TAB_LF, ' ') : s;
  }

  private flushText(): void {
    this.crPending = false;
    if (!this.text.empty) this.sink.text(this.text.take());
  }

  /** Next index of `needle` at or after pos (the buffer length if none), cached so each buffer is searched once. */
  private find(slot: number, needle: string, pos: number): number {
    let i = this.next[slot]!;
    if (i < pos) {
      i = this.buf.indexOf(needle, pos);
      this.next[slot] = i = i === -1 ? this.end : i;
    }
    return i;
  }

  private wsFrom(pos: number): number {
    let i = this.next[N_WS]!;
    if (i < pos) {
      this.wsRe.lastIndex = pos;
      const m = this.wsRe.exec(this.buf);
      this.next[N_WS] = i = m === null ? this.end : m.index;
    }
    return i;
  }
}
