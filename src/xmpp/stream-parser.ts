// RFC 6120 §4 XML stream parser: turns bytes from a socket into the stream header, one ltx Element per
// top-level child (stanza, <stream:features/>, SASL and TLS nonzas…) and the stream close, enforcing the
// restricted XML of §11 and size and depth limits (§13.12 "Denial of Service").
//
// Why a hand-written tokenizer (xml-tokenizer.ts) that builds ltx Elements instead of @xmpp/xml's Parser,
// saxes or node-expat (measured in FACTS.md): none of them enforces RFC 6120 §11.1 (comments, PIs and
// DTDs pass; ltx silently drops the stream after <!DOCTYPE), node-expat expands billion-laughs entities,
// ltx throws out of write() on an unknown entity (killing the thread), decodes each Buffer on its own
// (corrupting UTF-8 split across chunks) and re-scans its whole pending remainder on every chunk
// (quadratic: 1 MB of text blocks the thread for 0.1 s), and none bounds stanza size or depth.
import { isUtf8 } from 'node:buffer';
import { Element } from './xml.ts';
import { StreamError } from './errors.ts';
import { XmlTokenizer, notWellFormed, restricted, type TokenSink } from './xml-tokenizer.ts';

export interface StreamParserLimits {
  /** Largest top-level element in bytes as received, tags included; also bounds the stream header and the whitespace between elements. */
  maxStanzaBytes: number;
  /** Deepest element nesting below the stream root (a stanza is at depth 1). */
  maxDepth: number;
}

export interface StreamParserHandler {
  /** The stream header (`name` as written, e.g. 'stream:stream'). */
  onStreamStart(name: string, attrs: Record<string, string>): void;
  /** Each complete top-level child of the stream root, with the stream's default namespace made explicit. */
  onStanza(el: Element): void;
  /** The stream root was closed (`</stream:stream>`). Later input is ignored. */
  onStreamEnd(): void;
  /** Called at most once per stream; afterwards all input is ignored until reset(). */
  onError(err: StreamError): void;
}

export const DEFAULT_LIMITS: Readonly<StreamParserLimits> = Object.freeze({ maxStanzaBytes: 262_144, maxDepth: 64 });

// XML 1.0 §2.2 Char: C0 controls other than tab, LF and CR, and U+FFFE/U+FFFF are never allowed.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const INVALID_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
// In /u mode a surrogate range matches only unpaired surrogates (strings written as text, not bytes).
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
/** Chunks are scanned in windows of this many characters so limits trip soon after they are crossed. */
const WINDOW = 16_384;
const HEADER = 0,
  GAP = 1,
  STANZA = 2;
const SEGMENT_NAMES = ['stream header too large', 'too much whitespace between stanzas', 'stanza too large'];
// XML 1.0 §2.8 XMLDecl (after '<?'), accepting XML 1.0 5th edition's `1.x` versions.
const XML_DECL =
  /^xml\s+version\s*=\s*(?:'1\.[0-9]+'|"1\.[0-9]+")(?:\s+encoding\s*=\s*(?:'([A-Za-z][\w.-]*)'|"([A-Za-z][\w.-]*)"))?(?:\s+standalone\s*=\s*(?:'(?:yes|no)'|"(?:yes|no)"))?\s*$/;

/** The optional XML declaration before the stream header (RFC 6120 §11.5); any other PI is refused (§11.1). */
function checkDeclaration(body: string): void {
  const m = XML_DECL.exec(body);
  if (m === null) {
    if (/^xml\s/.test(body)) throw notWellFormed('malformed XML declaration');
    throw restricted('processing instructions are not allowed (RFC 6120 §11.1)');
  }
  const encoding = m[1] ?? m[2];
  // RFC 6120 §11.6: UTF-8 only; a peer that declares another encoding gets <unsupported-encoding/>.
  if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') {
    throw new StreamError('unsupported-encoding', 'only UTF-8 is allowed (RFC 6120 §11.6)');
  }
}

/** How many bytes at the end of `chunk` start a multi-byte UTF-8 sequence that the chunk does not finish (0-3). */
function incompleteUtf8Tail(chunk: Buffer): number {
  for (let back = 1; back <= 3 && back <= chunk.length; back++) {
    const b = chunk[chunk.length - back] as number;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back for the lead byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0; // three continuation bytes: complete, or invalid (isUtf8 says which)
}

export class StreamParser {
  private readonly handler: StreamParserHandler;
  private readonly limits: StreamParserLimits;
  private readonly sink: TokenSink;
  private tok: XmlTokenizer;
  private epoch = 0;
  private dead = false; // after an error, end(), or the stream's close tag
  private bytesSeen = false;
  private highSurrogate = ''; // a string chunk ended inside a surrogate pair
  private rootName: string | null = null;
  private rootAttrs: Record<string, string> = {};
  private readonly stack: Element[] = [];
  // Size accounting in bytes: the current segment (header, gap or stanza) began at segStart in tok.buf,
  // with segBytes counted in earlier windows; tagBytes holds the earlier-window part of an unfinished tag.
  private segKind = HEADER;
  private segBytes = 0;
  private segStart = 0;
  private tagBytes = 0;
  private ascii: boolean | undefined; // whether tok.buf is pure ASCII (bytes = chars); computed on demand
  private errored = false;
  /**
   * The first bytes of a UTF-8 sequence that the last chunk ended inside (a copy: never the socket's
   * chunk), prepended to the next chunk. Decoding keeps nothing else between chunks.
   */
  private utf8Tail: Buffer | null = null;

  constructor(handler: StreamParserHandler, limits?: Partial<StreamParserLimits>) {
    this.handler = handler;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.sink = {
      startTag: (name, attrs, selfClosing, at, end) => this.startTag(name, attrs, selfClosing, at, end),
      endTag: (name, at, end) => this.endTag(name, at, end),
      text: (text) => this.stack.at(-1)?.children.push(text),
      declaration: checkDeclaration,
    };
    this.tok = new XmlTokenizer(this.sink);
  }

  /** Feeds bytes or text. Never throws: every problem is reported once through onError. */
  write(chunk: Buffer | string): void {
    if (this.dead) return;
    try {
      this.feed(typeof chunk === 'string' ? this.fromString(chunk) : this.fromBytes(chunk));
    } catch (e) {
      this.fail(e);
    }
  }

  /** Forgets everything, including the rest of a chunk being parsed when called from a handler. */
  reset(): void {
    // Dropping the unparsed rest matters after STARTTLS: bytes pipelined behind <starttls/> were sent in
    // plaintext and must not be read as the first bytes of the encrypted stream (the classic STARTTLS
    // command-injection flaw). After SASL success the client waits for <success/> before its new header.
    this.tok.halt();
    this.epoch++;
    this.tok = new XmlTokenizer(this.sink);
    this.dead = false;
    this.errored = false;
    this.utf8Tail = null;
    this.bytesSeen = false;
    this.highSurrogate = '';
    this.rootName = null;
    this.rootAttrs = {};
    this.stack.length = 0;
    this.segKind = HEADER;
    this.segBytes = this.segStart = this.tagBytes = 0;
  }

  /**
   * True between two top-level elements of an open stream with nothing pending (no partial tag, text or
   * UTF-8 sequence): the state is then fully described by the stream's root tag, so the stream can be
   * handed to a parser on another shard (`continueStream`).
   */
  atBoundary(): boolean {
    return (
      !this.dead &&
      this.rootName !== null &&
      this.stack.length === 0 &&
      this.tok.idle &&
      this.highSurrogate === '' &&
      this.utf8Tail === null
    );
  }

  /** The open stream's root tag (name and attributes as the client sent them), or null. */
  streamRoot(): { name: string; attrs: Record<string, string> } | null {
    return this.rootName === null ? null : { name: this.rootName, attrs: this.rootAttrs };
  }

  /** Starts inside a stream whose root tag another parser read (see atBoundary); onStreamStart is not called. */
  continueStream(name: string, attrs: Record<string, string>): void {
    this.reset();
    this.rootName = name;
    this.rootAttrs = attrs;
    this.bytesSeen = true;
    this.tok.skipProlog();
    this.startSegment(GAP, 0, 0);
  }

  /** The transport closed: drops any partial input; later writes are ignored. */
  end(): void {
    this.tok.halt();
    this.dead = true;
    this.stack.length = 0;
  }

  private fromBytes(chunk: Buffer): string {
    if (!this.bytesSeen && chunk.length > 0) {
      this.bytesSeen = true;
      // RFC 6120 §11.6: UTF-8 only. A UTF-16/32 byte-order mark or a NUL in the first two bytes is another encoding.
      const b0 = chunk[0];
      if (b0 === 0xfe || b0 === 0xff || b0 === 0 || (chunk.length > 1 && chunk[1] === 0)) {
        throw new StreamError('unsupported-encoding', 'only UTF-8 is allowed (RFC 6120 §11.6)');
      }
    }
    // A sequence split across chunks: its first bytes wait for the rest. Unlike a streaming TextDecoder
    // (an ICU converter, ~0.9 KB of native memory per connection for its whole life), this keeps nothing
    // while a connection is idle; isUtf8 (simdutf) validates, as fatal decoding must (RFC 6120 §11.6).
    let bytes = chunk;
    if (this.utf8Tail !== null) {
      bytes = Buffer.concat([this.utf8Tail, chunk]);
      this.utf8Tail = null;
    }
    const cut = bytes.length > 0 && (bytes[bytes.length - 1] as number) >= 0x80 ? incompleteUtf8Tail(bytes) : 0;
    if (cut > 0) {
      this.utf8Tail = Buffer.from(bytes.subarray(bytes.length - cut));
      bytes = bytes.subarray(0, bytes.length - cut);
    }
    // XML 1.0 §4.3.3: bytes that are not legal in the entity's encoding are a fatal (well-formedness) error.
    // ignoreBOM semantics: a byte-order mark stays U+FEFF, text before the header (RFC 6120 §11.6 forbids it).
    if (!isUtf8(bytes)) throw notWellFormed('invalid UTF-8');
    return bytes.toString('utf8');
  }

  private fromString(chunk: string): string {
    let s = this.highSurrogate.length > 0 ? this.highSurrogate + chunk : chunk;
    this.highSurrogate = '';
    const last = s.charCodeAt(s.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.highSurrogate = s.slice(-1);
      s = s.slice(0, -1);
    }
    if (LONE_SURROGATE.test(s)) throw notWellFormed('lone UTF-16 surrogate');
    return s;
  }

  private feed(text: string): void {
    const epoch = this.epoch;
    for (let at = 0; at < text.length; at += WINDOW) {
      const window = text.length <= WINDOW ? text : text.slice(at, at + WINDOW);
      if (INVALID_CHAR.test(window)) throw notWellFormed('character not allowed in XML');
      const tok = this.tok;
      this.ascii = undefined;
      tok.write(window);
      if (this.epoch !== epoch || this.dead) return;
      this.windowDone(tok);
    }
    // What was not consumed is in the tokenizer's carry; the chunk itself need not outlive this call (an
    // idle connection would otherwise keep its last chunk, up to a whole socket read, alive).
    this.tok.buf = '';
  }

  private bytes(a: number, b: number): number {
    const buf = this.tok.buf;
    this.ascii ??= Buffer.byteLength(buf, 'utf8') === buf.length;
    return this.ascii ? b - a : Buffer.byteLength(buf.slice(a, b), 'utf8');
  }

  /** Counts what this window consumed and enforces the limit as soon as it is crossed. */
  private windowDone(tok: XmlTokenizer): void {
    if (tok.inTag) {
      if (tok.tagStart >= 0) {
        this.segBytes += this.bytes(this.segStart, tok.tagStart);
        this.tagBytes = this.bytes(tok.tagStart, tok.consumed);
      } else {
        this.tagBytes += this.bytes(0, tok.consumed);
      }
    } else {
      this.segBytes += this.bytes(this.segStart, tok.consumed);
    }
    this.segStart = 0;
    // A tag open between stanzas is the start tag of the next stanza.
    const gap = this.segKind === GAP;
    this.checkSize(gap ? this.segBytes : this.segBytes + this.tagBytes);
    if (gap) this.checkSize(this.tagBytes, STANZA);
  }

  private checkSize(n: number, kind = this.segKind): void {
    if (n > this.limits.maxStanzaBytes) throw new StreamError('policy-violation', SEGMENT_NAMES[kind]);
  }

  /** Bytes of the segment ending at `end`, for a tag that began at `at` (-1: in an earlier window). */
  private segmentThrough(at: number, end: number): number {
    const carried = at < 0 ? this.tagBytes : 0;
    this.tagBytes = 0;
    return this.segBytes + carried + this.bytes(this.segStart, end);
  }

  private startSegment(kind: number, start: number, bytes: number): void {
    this.segKind = kind;
    this.segStart = start;
    this.segBytes = bytes;
  }

  private startTag(name: string, attrs: Record<string, string>, selfClosing: boolean, at: number, end: number): void {
    if (this.rootName === null) {
      this.checkSize(this.segmentThrough(at, end));
      this.startSegment(GAP, end, 0);
      this.rootName = name;
      this.rootAttrs = attrs;
      const epoch = this.epoch;
      this.handler.onStreamStart(name, attrs);
      if (selfClosing && epoch === this.epoch) this.closeStream();
      return;
    }
    const depth = this.stack.length + 1;
    // RFC 6120 §13.12: limits protect the server; deep trees also overflow Element.toString() (FACTS.md).
    if (depth > this.limits.maxDepth) throw new StreamError('policy-violation', 'elements nested too deeply');
    const el = new Element(name);
    el.attrs = attrs;
    if (depth === 1) {
      // The stanza starts at its '<': the gap before it ends there.
      if (at >= 0) this.checkSize(this.segBytes + this.bytes(this.segStart, at));
      const carried = at < 0 ? this.tagBytes : 0;
      this.tagBytes = 0;
      this.startSegment(STANZA, Math.max(at, 0), carried);
      this.selfContained(name, attrs);
    } else {
      if (at < 0) this.segBytes += this.tagBytes;
      this.tagBytes = 0;
      const parent = this.stack.at(-1);
      parent?.children.push(el);
      el.parent = parent ?? null;
    }
    if (!selfClosing) {
      this.stack.push(el);
      this.tok.keepText = true;
    } else if (depth === 1) {
      this.stanzaDone(el, at, end);
    }
  }

  private endTag(name: string, at: number, end: number): void {
    const el = this.stack.pop();
    if (el === undefined) {
      if (name !== this.rootName) throw notWellFormed('end tag does not match the stream root');
      this.closeStream();
      return;
    }
    // XML 1.0 §3 WFC Element Type Match.
    if (el.name !== name) throw notWellFormed('end tag does not match start tag');
    if (this.stack.length === 0) {
      this.tok.keepText = false;
      this.stanzaDone(el, at, end);
    } else if (at < 0) {
      this.segBytes += this.tagBytes;
      this.tagBytes = 0;
    }
  }

  private stanzaDone(el: Element, at: number, end: number): void {
    this.checkSize(this.segmentThrough(at, end));
    this.startSegment(GAP, end, 0);
    this.handler.onStanza(el);
  }

  private closeStream(): void {
    this.dead = true;
    this.tok.halt();
    this.handler.onStreamEnd();
  }

  /** RFC 6120 §4.8: make the stream's default namespace, and the prefix the element uses, explicit on it. */
  private selfContained(name: string, attrs: Record<string, string>): void {
    const root = this.rootAttrs;
    if (attrs.xmlns === undefined && root.xmlns !== undefined) attrs.xmlns = root.xmlns;
    const colon = name.indexOf(':');
    if (colon > 0) {
      const decl = `xmlns:${name.slice(0, colon)}`;
      if (attrs[decl] === undefined) {
        const ns = root[decl];
        // Namespaces in XML 1.0 §5 NSC Prefix Declared.
        if (ns === undefined) throw notWellFormed('undeclared namespace prefix');
        attrs[decl] = ns;
      }
    }
  }

  private fail(e: unknown): void {
    this.tok.halt();
    this.stack.length = 0;
    this.dead = true;
    if (this.errored) return;
    this.errored = true;
    let err: StreamError;
    if (e instanceof StreamError) err = e;
    else {
      // A handler threw (or a bug): close the stream rather than throw out of write().
      err = new StreamError('internal-server-error');
      err.cause = e;
    }
    try {
      this.handler.onError(err);
    } catch {
      // A throwing onError is the caller's bug; write() still must not throw.
    }
  }
}

/** Tree builder for parseElement: the first element is the root; text outside it must be whitespace. */
class ElementBuilder implements TokenSink {
  root: Element | null = null;
  done = false;
  readonly tok = new XmlTokenizer(this);
  private readonly stack: Element[] = [];

  startTag(name: string, attrs: Record<string, string>, selfClosing: boolean): void {
    if (this.done) throw notWellFormed('more than one root element');
    const el = new Element(name);
    el.attrs = attrs;
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined) this.root = el;
    else {
      parent.children.push(el);
      el.parent = parent;
    }
    if (!selfClosing) this.stack.push(el);
    this.tok.keepText = this.stack.length > 0;
    this.done = this.stack.length === 0;
  }
  endTag(name: string): void {
    const el = this.stack.pop();
    if (el === undefined || el.name !== name) throw notWellFormed('end tag does not match start tag');
    this.tok.keepText = this.stack.length > 0;
    this.done = this.stack.length === 0;
  }
  text(text: string): void {
    this.stack.at(-1)?.children.push(text);
  }
  declaration(body: string): void {
    checkDeclaration(body);
  }
}

/** Parses one complete element from trusted text (our own serialisation over the mesh); throws StreamError on bad input. */
export function parseElement(xmlText: string): Element {
  if (INVALID_CHAR.test(xmlText)) throw notWellFormed('character not allowed in XML');
  const builder = new ElementBuilder();
  builder.tok.write(xmlText);
  if (!builder.done || !builder.tok.idle || builder.root === null) throw notWellFormed('incomplete element');
  return builder.root;
}
