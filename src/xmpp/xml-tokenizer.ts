// Incremental tokenizer for the restricted XML of RFC 6120 §11 (XMPP streams).
//
// Why hand-written instead of ltx / @xmpp/xml, saxes or node-expat (measured in FACTS.md): none of them
// enforces RFC 6120 §11.1 (comments, PIs and DTDs pass; ltx drops the stream after <!DOCTYPE), node-expat
// expands billion-laughs entities, ltx throws out of write() on an unknown entity and re-scans its whole
// pending remainder on every chunk (quadratic: 1 MB of text blocks the thread for 0.1 s). This tokenizer
// never re-scans: text, names and attribute values are streamed into pieces as they arrive, and only
// tiny look-aheads (≤ 9 chars of markup, one reference, one XML declaration) are carried to the next chunk.
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

// States. START_NAME..END_WS are "inside a tag" (see inTag).
const TEXT = 0, START_NAME = 1, TAG_WS = 2, ATTR_NAME = 3, ATTR_EQ = 4, ATTR_QUOTE = 5, ATTR_VALUE = 6,
  SELF_CLOSE = 7, END_NAME = 8, END_WS = 9, CDATA = 10;
const LT = 60, GT = 62, SLASH = 47, BANG = 33, QMARK = 63, EQ = 61, DQUOTE = 34, SQUOTE = 39, LSQB = 91,
  RSQB = 93, HASH = 35, LF = 10, CR = 13;
const MAX_REF = 40; // longest reference we wait for ('&#x' + digits with some leading zeros); longer is refused
const MAX_DECL = 256; // longest XML declaration we wait for
const CDATA_OPEN = '<![CDATA[';
const CRLF = /\r\n?/g; // replace() with a /g regex resets lastIndex, so sharing these two is stateless
const TAB_LF = /[\t\n]/g;
// XML 1.0 §2.8 XMLDecl, with XML 1.0 5th edition's `1.x` versions.
const XML_DECL =
  /^\s+version\s*=\s*(?:'1\.[0-9]+'|"1\.[0-9]+")(?:\s+encoding\s*=\s*(?:'([A-Za-z][\w.-]*)'|"([A-Za-z][\w.-]*)"))?(?:\s+standalone\s*=\s*(?:'(?:yes|no)'|"(?:yes|no)"))?\s*$/;

/** ASCII name-character table (bit 1: NameStartChar, bit 2: NameChar), XML 1.0 §2.3. Filled once, never written again. */
const ASCII_NAME = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    const start = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 58 || c === 95;
    const more = start || (c >= 48 && c <= 57) || c === 45 || c === 46;
    t[c] = (start ? 1 : 0) | (more ? 2 : 0);
  }
  return t;
})();

/** XML 1.0 §2.3 NameStartChar beyond ASCII. UTF-16 surrogates stand in for [#x10000-#xEFFFF]. */
function nonAsciiNameStart(c: number): boolean {
  return (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xf6) || (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) || (c >= 0x37f && c <= 0x1fff) || c === 0x200c || c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) || (c >= 0x2c00 && c <= 0x2fef) || (c >= 0x3001 && c <= 0xdfff) ||
    (c >= 0xf900 && c <= 0xfdcf) || (c >= 0xfdf0 && c <= 0xfffd);
}
export function isNameStart(c: number): boolean {
  return c < 128 ? (ASCII_NAME[c]! & 1) !== 0 : nonAsciiNameStart(c);
}
export function isNameChar(c: number): boolean {
  if (c < 128) return (ASCII_NAME[c]! & 2) !== 0;
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

/** Decodes the body of `&…;`. XML 1.0 §4.6 predefined entities and §4.1 character references only (RFC 6120 §11.1). */
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
      const c = ref.charCodeAt(i);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (hex && c >= 97 && c <= 102) d = c - 87;
      else if (hex && c >= 65 && c <= 70) d = c - 55;
      else throw notWellFormed('malformed character reference');
      cp = cp * (hex ? 16 : 10) + d;
      if (cp > 0x10ffff) throw notWellFormed('character reference out of range');
    }
    if (!isXmlChar(cp)) throw notWellFormed('character reference to a character XML does not allow');
    return String.fromCodePoint(cp);
  }
  let name = isNameStart(ref.charCodeAt(0));
  for (let i = 1; name && i < ref.length; i++) name = isNameChar(ref.charCodeAt(i));
  if (name) throw restricted('entity references other than the five predefined ones are not allowed');
  throw notWellFormed('malformed entity reference');
}

export class XmlTokenizer {
  /** Set by the sink: true inside an element whose text is kept; false where only whitespace may appear. */
  keepText = false;
  /** The buffer being scanned: the carried look-ahead followed by the latest chunk. */
  buf = '';
  /** After run(): characters of `buf` before this index are consumed; the rest is carried to the next chunk. */
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
  private brackets = 0; // trailing ']' of the last raw text piece, to find ']]>' split across chunks
  // Pieces of the current text run and attribute value (head + rest: no array work for the usual single piece).
  private tHas = false;
  private tHead = '';
  private readonly tMore: string[] = [];
  private vHas = false;
  private vHead = '';
  private readonly vMore: string[] = [];
  // Cached "next index at or after pos" per buffer; buffer length when there is none. Keeps scans linear.
  private nLt = -1;
  private nAmp = -1;
  private nCR = -1;
  private nCdEnd = -1;
  private nWs = -1;
  private readonly wsRe = /[\t\n\r]/g; // per instance: exec() keeps state in lastIndex

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

  /** Stops the scan at the next token boundary (the owner was reset from inside a callback). */
  halt(): void {
    this.halted = true;
  }

  /** Appends a chunk to the carried look-ahead and scans it. Throws StreamError on a violation. */
  write(chunk: string): void {
    this.buf = this.carry.length > 0 ? this.carry + chunk : chunk;
    this.end = this.buf.length;
    this.carry = '';
    this.consumed = 0;
    this.nLt = this.nAmp = this.nCR = this.nCdEnd = this.nWs = -1;
    if (this.inTag) this.tagStart = -1;
    this.run();
  }

  private run(): void {
    const buf = this.buf;
    const end = this.end;
    let pos = 0;
    while (pos < end && !this.halted) {
      switch (this.state) {
        case TEXT: {
          const lt = this.ltFrom(pos);
          while (pos < lt) {
            const amp = this.ampFrom(pos);
            const stop = amp < lt ? amp : lt;
            if (stop > pos) this.rawText(pos, stop);
            pos = stop;
            if (pos < lt) {
              if (!this.keepText) throw notWellFormed('text outside a stanza');
              const next = this.reference(pos, lt, false);
              if (next < 0) return this.suspend(pos);
              pos = next;
            }
          }
          if (pos === end) break;
          if (pos + 1 === end) return this.suspend(pos);
          const c = buf.charCodeAt(pos + 1);
          if (c === SLASH) {
            this.flushText();
            this.tagStart = pos;
            this.state = END_NAME;
            pos += 2;
          } else if (isNameStart(c)) {
            this.flushText();
            this.tagStart = pos;
            this.attrs = {};
            this.state = START_NAME;
            pos += 1;
          } else {
            const next = c === BANG ? this.bang(pos) : c === QMARK ? this.decl(pos) : -2;
            if (next === -2) throw notWellFormed("'<' must start a tag");
            if (next < 0) return this.suspend(pos);
            pos = next;
          }
          break;
        }
        case START_NAME:
        case ATTR_NAME:
        case END_NAME: {
          const st = this.state;
          let p = pos;
          if (st === END_NAME && this.name.length === 0 && !isNameStart(buf.charCodeAt(p))) {
            throw notWellFormed('malformed end tag');
          }
          while (p < end && isNameChar(buf.charCodeAt(p))) p++;
          const piece = buf.slice(pos, p);
          if (st === ATTR_NAME) this.attrName = this.attrName.length === 0 ? piece : this.attrName + piece;
          else this.name = this.name.length === 0 ? piece : this.name + piece;
          pos = p;
          if (p < end) {
            this.state = st === START_NAME ? TAG_WS : st === ATTR_NAME ? ATTR_EQ : END_WS;
            this.sawWs = false;
          }
          break;
        }
        case TAG_WS: {
          const c = buf.charCodeAt(pos);
          if (isWs(c)) {
            this.sawWs = true;
            pos++;
          } else if (c === GT) {
            pos = this.startDone(false, pos + 1);
          } else if (c === SLASH) {
            this.state = SELF_CLOSE;
            pos++;
          } else if (this.sawWs && isNameStart(c)) {
            this.attrName = '';
            this.state = ATTR_NAME;
          } else {
            throw notWellFormed('malformed start tag');
          }
          break;
        }
        case ATTR_EQ:
        case ATTR_QUOTE: {
          const c = buf.charCodeAt(pos);
          if (isWs(c)) {
            pos++;
          } else if (this.state === ATTR_EQ && c === EQ) {
            this.state = ATTR_QUOTE;
            pos++;
          } else if (this.state === ATTR_QUOTE && (c === DQUOTE || c === SQUOTE)) {
            // XML 1.0 §3.1 WFC Unique Att Spec. hasOwn: a plain {} inherits names like 'constructor'.
            if (Object.hasOwn(this.attrs, this.attrName)) throw notWellFormed('duplicate attribute');
            this.quote = c;
            this.state = ATTR_VALUE;
            pos++;
          } else {
            throw notWellFormed('malformed attribute');
          }
          break;
        }
        case ATTR_VALUE: {
          const q = buf.indexOf(this.quote === DQUOTE ? '"' : "'", pos);
          const stop = q === -1 ? end : q;
          // XML 1.0 §3.1 WFC No < in Attribute Values.
          if (this.ltFrom(pos) < stop) throw notWellFormed("'<' in an attribute value");
          while (pos < stop) {
            const amp = this.ampFrom(pos);
            const seg = amp < stop ? amp : stop;
            if (seg > pos) this.rawValue(pos, seg);
            pos = seg;
            if (pos < stop) {
              const next = this.reference(pos, stop, true);
              if (next < 0) return this.suspend(pos);
              pos = next;
            }
          }
          if (q !== -1) {
            this.attrDone();
            pos = q + 1;
          }
          break;
        }
        case SELF_CLOSE:
          if (buf.charCodeAt(pos) !== GT) throw notWellFormed("'/' in a start tag must be followed by '>'");
          pos = this.startDone(true, pos + 1);
          break;
        case END_WS: {
          const c = buf.charCodeAt(pos);
          if (isWs(c)) {
            pos++;
          } else if (c === GT) {
            const name = this.name;
            this.name = '';
            this.state = TEXT;
            pos++;
            this.sink.endTag(name, this.tagStart, pos);
          } else {
            throw notWellFormed('malformed end tag');
          }
          break;
        }
        default: {
          // CDATA: its text joins the surrounding text run (RFC 6120 §11.1 does not prohibit CDATA sections).
          const close = buf.indexOf(']]>', pos);
          if (close !== -1) {
            if (close > pos) this.cdataText(pos, close);
            this.crPending = false;
            this.state = TEXT;
            pos = close + 3;
            break;
          }
          let keep = 0; // a ']' or ']]' at the end may be the start of ']]>'
          if (end - 1 >= pos && buf.charCodeAt(end - 1) === RSQB) keep = end - 2 >= pos && buf.charCodeAt(end - 2) === RSQB ? 2 : 1;
          if (end - keep > pos) this.cdataText(pos, end - keep);
          if (keep > 0) return this.suspend(end - keep);
          pos = end;
        }
      }
    }
    if (this.state === TEXT && this.carry.length === 0 && !this.halted) this.brackets = this.trailingBrackets();
    this.consumed = end;
  }

  /** Keeps buf[pos..] to be re-scanned, in the same state, once more input arrives. */
  private suspend(pos: number): void {
    this.consumed = pos;
    this.carry = this.buf.slice(pos);
  }

  /** '<!' at pos: only '<![CDATA[' is allowed; comments, DOCTYPE and other declarations are RFC 6120 §11.1 violations. */
  private bang(pos: number): number {
    const avail = this.end - pos;
    if (avail < 3) return -1;
    if (this.buf.charCodeAt(pos + 2) !== LSQB) {
      throw restricted('comments, DOCTYPE and declarations are not allowed (RFC 6120 §11.1)');
    }
    const n = avail < 9 ? avail : 9;
    if (this.buf.slice(pos, pos + n) !== CDATA_OPEN.slice(0, n)) throw notWellFormed('malformed CDATA section');
    if (n < 9) return -1;
    if (!this.keepText) throw notWellFormed('CDATA section outside a stanza');
    this.crPending = false; // CR LF pairs only join when adjacent in the input
    this.state = CDATA;
    return pos + 9;
  }

  /** '<?' at pos: an XML declaration before the first tag (RFC 6120 §11.5) or a prohibited PI (§11.1). */
  private decl(pos: number): number {
    const buf = this.buf;
    const avail = this.end - pos;
    const isXml = buf.startsWith('<?xml'.slice(0, avail < 5 ? avail : 5), pos);
    if (!this.allowDecl || !isXml) throw restricted('processing instructions are not allowed (RFC 6120 §11.1)');
    if (avail < 6) return -1;
    if (!isWs(buf.charCodeAt(pos + 5))) throw restricted('processing instructions are not allowed (RFC 6120 §11.1)');
    const close = buf.indexOf('?>', pos + 5);
    if (close === -1 || close - pos > MAX_DECL) {
      if (close === -1 && avail <= MAX_DECL) return -1;
      throw notWellFormed('XML declaration too long');
    }
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

  /** '&' at pos, inside text or an attribute value ending at stop. Returns the index after ';', or -1 to wait. */
  private reference(pos: number, stop: number, inAttr: boolean): number {
    const semi = this.buf.indexOf(';', pos + 1);
    if (semi === -1 || semi > stop || semi - pos > MAX_REF) {
      if (semi === -1 && stop === this.end && stop - pos <= MAX_REF) return -1;
      throw notWellFormed("'&' must start a reference ending in ';'");
    }
    const ch = decodeReference(this.buf.slice(pos + 1, semi));
    this.crPending = false;
    this.brackets = 0;
    if (inAttr) this.pushValue(ch);
    else this.pushText(ch);
    return semi + 1;
  }

  private rawText(a: number, b: number): void {
    const buf = this.buf;
    if (!this.keepText) {
      // Between stanzas only whitespace (keepalives) may appear; it is dropped.
      for (let i = a; i < b; i++) if (!isWs(buf.charCodeAt(i))) throw notWellFormed('text outside a stanza');
      return;
    }
    // XML 1.0 §2.4: ']]>' must not appear literally in character data.
    if (this.cdEndFrom(a) + 3 <= b) throw notWellFormed("']]>' in text");
    if (this.brackets > 0) {
      const c0 = buf.charCodeAt(a);
      if ((this.brackets === 2 && c0 === GT) || (c0 === RSQB && b - a > 1 && buf.charCodeAt(a + 1) === GT)) {
        throw notWellFormed("']]>' in text");
      }
    }
    let s = buf.slice(a, b);
    if (this.crPending || this.crFrom(a) < b) s = this.eol(s, false);
    if (s.length > 0) this.pushText(s);
  }

  private cdataText(a: number, b: number): void {
    let s = this.buf.slice(a, b);
    if (this.crPending || this.crFrom(a) < b) s = this.eol(s, false);
    this.brackets = 0;
    if (s.length > 0) this.pushText(s);
  }

  private rawValue(a: number, b: number): void {
    let s = this.buf.slice(a, b);
    if (this.crPending || this.wsFrom(a) < b) s = this.eol(s, true);
    if (s.length > 0) this.pushValue(s);
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

  private trailingBrackets(): number {
    const buf = this.buf;
    const n = this.end;
    if (!this.keepText || n === 0 || buf.charCodeAt(n - 1) !== RSQB) return 0;
    return n >= 2 && buf.charCodeAt(n - 2) === RSQB ? 2 : this.brackets > 0 && n === 1 ? 2 : 1;
  }

  private pushText(s: string): void {
    if (this.tHas) this.tMore.push(s);
    else {
      this.tHead = s;
      this.tHas = true;
    }
  }

  private flushText(): void {
    this.crPending = false;
    this.brackets = 0;
    if (!this.tHas) return;
    const more = this.tMore;
    const text = more.length === 0 ? this.tHead : this.tHead + more.join('');
    more.length = 0;
    this.tHead = '';
    this.tHas = false;
    this.sink.text(text);
  }

  private pushValue(s: string): void {
    if (this.vHas) this.vMore.push(s);
    else {
      this.vHead = s;
      this.vHas = true;
    }
  }

  private attrDone(): void {
    const more = this.vMore;
    const value = !this.vHas ? '' : more.length === 0 ? this.vHead : this.vHead + more.join('');
    more.length = 0;
    this.vHead = '';
    this.vHas = false;
    this.crPending = false;
    const name = this.attrName;
    // '__proto__' is a legal XML name; plain assignment would silently drop it.
    if (name === '__proto__') Object.defineProperty(this.attrs, name, { value, enumerable: true, writable: true, configurable: true });
    else this.attrs[name] = value;
    this.state = TAG_WS;
    this.sawWs = false;
  }

  private startDone(selfClosing: boolean, end: number): number {
    const name = this.name;
    const attrs = this.attrs;
    this.name = '';
    this.state = TEXT;
    this.allowDecl = false;
    this.sink.startTag(name, attrs, selfClosing, this.tagStart, end);
    return end;
  }

  private ltFrom(pos: number): number {
    if (this.nLt < pos) {
      const i = this.buf.indexOf('<', pos);
      this.nLt = i === -1 ? this.end : i;
    }
    return this.nLt;
  }

  private ampFrom(pos: number): number {
    if (this.nAmp < pos) {
      const i = this.buf.indexOf('&', pos);
      this.nAmp = i === -1 ? this.end : i;
    }
    return this.nAmp;
  }

  private crFrom(pos: number): number {
    if (this.nCR < pos) {
      const i = this.buf.indexOf('\r', pos);
      this.nCR = i === -1 ? this.end : i;
    }
    return this.nCR;
  }

  private cdEndFrom(pos: number): number {
    if (this.nCdEnd < pos) {
      const i = this.buf.indexOf(']]>', pos);
      this.nCdEnd = i === -1 ? this.end : i;
    }
    return this.nCdEnd;
  }

  private wsFrom(pos: number): number {
    if (this.nWs < pos) {
      this.wsRe.lastIndex = pos;
      const m = this.wsRe.exec(this.buf);
      this.nWs = m === null ? this.end : m.index;
    }
    return this.nWs;
  }
}
