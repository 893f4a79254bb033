import { readFileSync } from 'node:fs';
import t from 'tap';
import type { StreamError } from '../../../src/xmpp/errors.ts';
import { NS } from '../../../src/xmpp/ns.ts';
import { parseElement, StreamParser, type StreamParserHandler, type StreamParserLimits } from '../../../src/xmpp/stream-parser.ts';
import type { Element } from '../../../src/xmpp/xml.ts';

const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";
const FIXTURE = readFileSync(new URL('../../fixtures/stanzas/c2s-stream.xml', import.meta.url));

/** Records every callback of one parser. */
class Recorder implements StreamParserHandler {
  header: [string, Record<string, string>] | undefined;
  stanzas: Element[] = [];
  ends = 0;
  errors: StreamError[] = [];
  onStanzaHook: ((el: Element) => void) | undefined;
  onStreamStart(name: string, attrs: Record<string, string>): void {
    this.header = [name, attrs];
  }
  onStanza(el: Element): void {
    this.stanzas.push(el);
    this.onStanzaHook?.(el);
  }
  onStreamEnd(): void {
    this.ends++;
  }
  onError(err: StreamError): void {
    this.errors.push(err);
  }
  get condition(): string | undefined {
    return this.errors[0]?.condition;
  }
}

function parse(chunks: Iterable<string | Buffer>, limits?: Partial<StreamParserLimits>): Recorder {
  const rec = new Recorder();
  const parser = new StreamParser(rec, limits);
  for (const chunk of chunks) parser.write(chunk);
  return rec;
}

/** Splits text into Buffers of `size` bytes (so multi-byte characters get cut). */
function* split(input: string | Buffer, size: number): Generator<Buffer> {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

const conditionOf = (body: string, limits?: Partial<StreamParserLimits>) => parse([HEADER + body], limits).condition;

t.test('parses a realistic client stream into self-contained stanzas', async (t) => {
  const whole = parse([FIXTURE]);
  t.same(whole.errors, []);
  t.equal(whole.header?.[0], 'stream:stream');
  t.same(whole.header?.[1], { xmlns: NS.CLIENT, 'xmlns:stream': NS.STREAM, to: 'example.com', version: '1.0', 'xml:lang': 'en' });
  t.same(
    whole.stanzas.map((el) => el.name),
    ['iq', 'presence', 'message', 'iq'],
  );
  t.equal(whole.ends, 1);
  const [iq, presence, message] = whole.stanzas;
  t.equal(iq?.attrs.xmlns, NS.CLIENT, 'the stream default namespace is made explicit');
  t.equal(iq?.getChild('bind', NS.BIND)?.getChildText('resource'), 'balcony');
  t.equal(presence?.getChildText('status'), 'Out & about — back at 6 ✓');
  t.equal(presence?.getChild('c', NS.CAPS)?.attrs.ver, 'QgayPKawpkPSDYmwT/WM94uAlu0=');
  t.same(message?.attrs, { to: 'romeo@example.net', type: 'chat', id: 'm-1', 'xml:lang': 'fr', xmlns: NS.CLIENT }, 'both quote styles');
  t.equal(message?.getChildText('body'), 'Où es-tu, Roméo ? <3 "Juliette" \'🌹\'', 'predefined entities decoded');
  const xhtml = message?.getChild('html')?.getChild('body', 'http://www.w3.org/1999/xhtml');
  t.equal(xhtml?.getChild('p')?.getChild('em')?.getText(), 'es-tu', 'nested payloads keep their namespaces');
  t.ok(message?.getChild('active', 'http://jabber.org/protocol/chatstates'), 'self-closing tag');
  const field = message?.getChild('x', NS.DATA_FORMS)?.getChild('field');
  t.equal(field?.attrs.var, 'a&b');
  t.equal(field?.getChildText('value'), 'x < y && y > z', 'CDATA is text (RFC 6120 §11.1 does not prohibit it)');
  t.equal(message?.getChild('body')?.parent, message, 'children link to their parent');

  const reparsed = parseElement(message?.toString() ?? '');
  t.equal(reparsed.toString(), message?.toString(), 'escaped entities round-trip through toString and parseElement');

  for (const size of [1, 2, 3, 5, 7, 64, 1000]) {
    const chunked = parse(split(FIXTURE, size));
    t.same(chunked.errors, [], `no error in ${size}-byte chunks`);
    t.same(chunked.stanzas.map(String), whole.stanzas.map(String), `same stanzas in ${size}-byte chunks (UTF-8 cut inside characters)`);
  }
});

t.test('handles several stanzas per chunk, keepalives, prefixes and the stream close', async (t) => {
  const rec = parse([
    `${HEADER} \n\t<stream:features><starttls xmlns='${NS.TLS}'><required/></starttls></stream:features>`,
    " <presence/><message id='a'/> \n <iq id='b' type='get' xmlns='jabber:server'/>",
    '</stream:stream> <late/>',
  ]);
  t.same(rec.errors, []);
  t.same(rec.stanzas.map(String), [
    `<stream:features xmlns="${NS.CLIENT}" xmlns:stream="${NS.STREAM}"><starttls xmlns="${NS.TLS}"><required/></starttls></stream:features>`,
    `<presence xmlns="${NS.CLIENT}"/>`,
    `<message id="a" xmlns="${NS.CLIENT}"/>`,
    '<iq id="b" type="get" xmlns="jabber:server"/>',
  ]);
  t.ok(rec.stanzas[0]?.is('features', NS.STREAM), 'prefixed names keep the prefix and resolve to the stream namespace');
  t.equal(rec.ends, 1, 'input after </stream:stream> is ignored');
  const empty = parse([`<?xml version="1.0"?>\n<stream:stream xmlns:stream='${NS.STREAM}'/>`]);
  t.same([empty.header?.[0], empty.ends, empty.errors], ['stream:stream', 1, []], 'self-closing stream root');
});

t.test('attribute names that are also Object.prototype names', async (t) => {
  const [el] = parse([`${HEADER}<x constructor='c' __proto__='p' toString='s' hasOwnProperty='h'/>`]).stanzas;
  t.same(Object.keys(el?.attrs ?? {}), ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'xmlns']);
  t.equal(Object.getOwnPropertyDescriptor(el?.attrs, '__proto__')?.value, 'p');
  t.equal(Object.getPrototypeOf(el?.attrs), Object.prototype);
  t.equal(conditionOf("<x __proto__='1' __proto__='2'/>"), 'not-well-formed');
});

t.test('character references and CDATA sections, whole and byte by byte', async (t) => {
  const input = `${HEADER}<m a='&#65;&#x42;&#x0043;'><b>&#x1F600;&#10;&#9;&#xe9;</b><c>a<![CDATA[]b]]c]<d>]]]]>z</c></m>`;
  for (const chunks of [[input], split(input, 1)]) {
    const [el] = parse(chunks).stanzas;
    t.equal(el?.attrs.a, 'ABC');
    t.equal(el?.getChildText('b'), '😀\n\té');
    t.equal(el?.getChildText('c'), 'a]b]]c]<d>]]z', "']' and ']]' inside CDATA; CDATA joins the surrounding text");
  }
});

const RESTRICTED: [string, string][] = [
  ['a comment inside a stanza', '<message><!-- hi --></message>'],
  ['a comment between stanzas', '<!---->'],
  ['a processing instruction inside a stanza', '<message><?php echo 1 ?></message>'],
  ['a processing instruction between stanzas', '<?foo bar?>'],
  ['an XML declaration after the header', "<?xml version='1.0'?>"],
  ['a DOCTYPE after the header', '<!DOCTYPE x>'],
  ['an entity declaration', '<!ENTITY x "y">'],
  ['an undeclared entity in text', '<message><body>&foo;</body></message>'],
  ['an HTML entity', '<message><body>&nbsp;</body></message>'],
  ['an undeclared entity in an attribute', "<message id='a&foo;'/>"],
];
for (const [what, body] of RESTRICTED) {
  t.test(`RFC 6120 §11.1: ${what} → restricted-xml`, async (t) => {
    t.equal(conditionOf(body), 'restricted-xml');
    t.equal(parse(split(HEADER + body, 1)).condition, 'restricted-xml', 'also byte by byte');
  });
}

t.test('attacks before the stream header → restricted-xml', async (t) => {
  const lol = Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`).join('');
  const attacks = {
    'billion laughs': `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">${lol}]>${HEADER}<message><body>&lol9;</body></message>`,
    'external entity (XXE)': `<!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${HEADER}<message><body>&xxe;</body></message>`,
    'a DOCTYPE': `<!DOCTYPE stream:stream>${HEADER}`,
    'a comment': `<!-- hi -->${HEADER}`,
    'a stylesheet PI': `<?xml-stylesheet href="x"?>${HEADER}`,
  };
  for (const [what, input] of Object.entries(attacks)) {
    const started = performance.now();
    const rec = parse([input]);
    t.same([rec.condition, rec.header, rec.stanzas.length], ['restricted-xml', undefined, 0], what);
    t.ok(performance.now() - started < 250, `${what} is refused at once`);
  }
});

const NOT_WELL_FORMED: [string, string][] = [
  ['a mismatched end tag', '<message><body></message>'],
  ['an end tag without start tag', '</message>'],
  ['a wrong stream close', '</stream>'],
  ['an attribute without value', '<message id>'],
  ['an unquoted attribute value', '<message id=1/>'],
  ['attributes without space between', "<message id='1'to='a'/>"],
  ['a duplicate attribute', `<message id='1' id="2"/>`],
  ["'<' in an attribute value", "<message id='a<b'/>"],
  ['a bare ampersand', '<message><body>AT&T rocks</body></message>'],
  ['an unterminated reference', '<message><body>&amp</body></message>'],
  ['a control character in text', '<message><body>\u0001</body></message>'],
  ['a control character in an attribute', "<message id='\u000b'/>"],
  ['U+FFFE', '<message><body>\uFFFE</body></message>'],
  ['a reference to a control character', '<message><body>&#1;</body></message>'],
  ['a reference to a surrogate', '<message><body>&#xD800;</body></message>'],
  ['a reference beyond U+10FFFF', '<message><body>&#x110000;</body></message>'],
  ['a malformed character reference', '<message><body>&#x12G;</body></message>'],
  ['text between stanzas', 'hello'],
  ['an entity between stanzas', '&amp;'],
  ['CDATA between stanzas', '<![CDATA[ ]]>'],
  ['a malformed CDATA opener', '<message><![CDAT[x]]></message>'],
  ["a space after '<'", '< message/>'],
  ["'/' not followed by '>'", '<message/ >'],
  ['an end tag with attributes', "<message></message id='x'>"],
  ['an unbound prefix on a stanza', '<foo:message/>'],
];
for (const [what, body] of NOT_WELL_FORMED) {
  t.test(`${what} → not-well-formed`, async (t) => {
    t.equal(conditionOf(body), 'not-well-formed');
    t.equal(parse(split(HEADER + body, 1)).condition, 'not-well-formed', 'also byte by byte');
  });
}

t.test('encoding: RFC 6120 §11.6 (UTF-8 only) and XML 1.0 §4.3.3 (invalid bytes are fatal)', async (t) => {
  const body = (bytes: number[]) => [HEADER, Buffer.concat([Buffer.from('<message><body>'), Buffer.from(bytes), Buffer.from('</body>')])];
  const invalid = { 'a bad continuation': [0xc3, 0x28], 'a 0xFF byte': [0xff], 'an overlong NUL': [0xc0, 0x80] };
  for (const [what, bytes] of Object.entries({
    ...invalid,
    'a UTF-8 surrogate': [0xed, 0xa0, 0x80],
    'beyond U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
  })) {
    t.equal(parse(body(bytes)).condition, 'not-well-formed', what);
  }
  t.equal(parse([Buffer.from([0xff, 0xfe]), Buffer.from(HEADER, 'utf16le')]).condition, 'unsupported-encoding', 'UTF-16 BOM');
  t.equal(parse([Buffer.from(HEADER, 'utf16le')]).condition, 'unsupported-encoding', 'UTF-16 without BOM');
  t.equal(parse([`<?xml version='1.0' encoding='ISO-8859-1'?>${HEADER}`]).condition, 'unsupported-encoding');
  t.equal(parse([`<?xml version='1.0' encoding="utf-8"?>${HEADER}`]).condition, undefined, 'a UTF-8 declaration is fine');
  t.equal(parse([`<?xml version='2.0'?>${HEADER}`]).condition, 'not-well-formed', 'a malformed declaration');
  t.equal(parse([Buffer.from([0xef, 0xbb, 0xbf]), HEADER]).condition, 'not-well-formed', 'U+FEFF is not a BOM here');
  t.equal(parse([`${HEADER}<m>\ud800</m>`]).condition, 'not-well-formed', 'a lone surrogate in string input');
  const pair = parse([`${HEADER}<m>\ud83c`, '\udf39</m>']);
  t.same([pair.condition, pair.stanzas[0]?.getText()], [undefined, '🌹'], 'a surrogate pair split across string chunks');
});

t.test('size limit: policy-violation as soon as a stanza crosses maxStanzaBytes', async (t) => {
  const stanza = `<message><body>${'é'.repeat(100)}</body></message>`; // 100 characters but 200 bytes
  const size = Buffer.byteLength(stanza);
  for (const chunk of [1, 7, 100_000]) {
    t.equal(parse(split(HEADER + stanza, chunk), { maxStanzaBytes: size }).condition, undefined, `exactly at the limit (${chunk})`);
    const over = parse(split(HEADER + stanza, chunk), { maxStanzaBytes: size - 1 });
    t.same([over.condition, over.errors[0]?.text], ['policy-violation', 'stanza too large'], `one byte over (${chunk})`);
  }
  t.equal(parse([HEADER, ' '.repeat(50), stanza, ' '.repeat(50), stanza], { maxStanzaBytes: size }).stanzas.length, 2);

  let fed = 0;
  const rec = new Recorder();
  const big = new StreamParser(rec);
  big.write(HEADER);
  big.write("<message><body a='");
  const mb = Buffer.alloc(1 << 20, 'x');
  for (const chunk of split(mb, 4096)) {
    if (rec.errors.length > 0) break;
    big.write(chunk);
    fed += chunk.length;
  }
  t.same([rec.condition, rec.errors[0]?.text], ['policy-violation', 'stanza too large'], 'a 1 MB start tag');
  t.ok(fed <= 262_144 + 4096, `refused after ${fed} bytes, not at the end`);
  const text = parse([HEADER, `<message><body>${'x'.repeat(1 << 20)}</body></message>`]);
  t.same([text.condition, text.stanzas.length], ['policy-violation', 0], 'a 1 MB body in one write');
});

t.test('size limit also bounds the header and the whitespace between stanzas', async (t) => {
  t.equal(parse([`<stream:stream a='${'x'.repeat(300_000)}'>`]).errors[0]?.text, 'stream header too large');
  t.equal(parse(split(`${HEADER}${' '.repeat(300_000)}`, 1000)).errors[0]?.text, 'too much whitespace between stanzas');
  const apart = parse(split(`${HEADER}${' '.repeat(200_000)}<message a='${'x'.repeat(200_000)}'/>`, 1000));
  t.same([apart.errors, apart.stanzas.length], [[], 1], 'whitespace and the next start tag are counted apart');
  const tag = parse(split(`${HEADER}<message a='${'x'.repeat(300_000)}'/>`, 1000));
  t.equal(tag.errors[0]?.text, 'stanza too large', 'a huge start tag between stanzas');
  t.equal(parse([`${HEADER}<a/>${' '.repeat(1000)}<a/>`], { maxStanzaBytes: 500 }).condition, 'policy-violation');
});

t.test('depth limit (below the stream root) → policy-violation', async (t) => {
  const nest = (n: number) => `${'<a>'.repeat(n)}${'</a>'.repeat(n)}`;
  t.equal(parse([HEADER + nest(64)]).stanzas.length, 1, '64 levels are fine by default');
  t.same(parse([HEADER + nest(65)]).errors.map(String), ['StreamError: policy-violation: elements nested too deeply']);
  t.equal(conditionOf(nest(4), { maxDepth: 3 }), 'policy-violation');
  const started = performance.now();
  t.equal(parse(split(HEADER + nest(10_000), 1024)).condition, 'policy-violation', '10,000 levels');
  t.ok(performance.now() - started < 500, 'refused quickly');
});

t.test('a 200 KB body is exact for every chunk size, and the cost is linear', async (t) => {
  const text = 'Lorem ipsum é ✓ 🌹 &amp; dolor '.repeat(7000).slice(0, 200_000);
  const expected = text.replaceAll('&amp;', '&');
  const id = 'é✓🌹 &quot;x&quot; '.repeat(1000);
  const stanza = (body: string) => `${HEADER}<message id='${id}'><body>${body}</body></message>`;
  for (const size of [1, 2, 3, 64, 1024, 4096]) {
    const rec = parse(split(stanza(text), size));
    t.equal(rec.stanzas[0]?.getChildText('body'), expected, `body in ${size}-byte chunks`);
    t.equal(rec.stanzas[0]?.attrs.id, id.replaceAll('&quot;', '"'), `attribute in ${size}-byte chunks`);
  }
  const timeOf = (kb: number, chunk: number) => {
    const input = [...split(stanza('x'.repeat(kb * 1024)), chunk)];
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      parse(input);
      best = Math.min(best, performance.now() - started);
    }
    return best;
  };
  const small = timeOf(50, 64);
  const large = timeOf(200, 64);
  t.ok(large / small < 10, `4x the bytes costs ${(large / small).toFixed(1)}x the time (quadratic would be ~16x)`);
  t.ok(timeOf(256, 1024) < 100, '256 KB in 1 KB chunks parses in well under 100 ms');
});

t.test('errors: reported once, never thrown, later input ignored', async (t) => {
  const rec = parse([`${HEADER}<!-- a -->`, '<!-- b -->', '<message/>']);
  t.same([rec.errors.length, rec.stanzas.length], [1, 0]);

  const throwing = new Recorder();
  throwing.onStanzaHook = () => {
    throw new Error('handler bug');
  };
  const parser = new StreamParser(throwing);
  t.doesNotThrow(() => parser.write(`${HEADER}<message/><message/>`));
  t.same([throwing.condition, throwing.stanzas.length], ['internal-server-error', 1]);

  class ThrowingOnError extends Recorder {
    override onError(): void {
      throw new Error('onError bug');
    }
  }
  const bad = new StreamParser(new ThrowingOnError());
  t.doesNotThrow(() => bad.write(`${HEADER}<!---->`));
});

t.test('reset() starts a new stream and drops the rest of the current chunk (STARTTLS injection)', async (t) => {
  const rec = new Recorder();
  const parser = new StreamParser(rec);
  rec.onStanzaHook = (el) => {
    if (el.name === 'starttls') parser.reset();
  };
  parser.write(`<?xml version='1.0'?>${HEADER}<starttls xmlns='${NS.TLS}'/><message><body>injected</body></message>`);
  t.same(
    rec.stanzas.map((el) => el.name),
    ['starttls'],
  );
  parser.write(`<?xml version='1.0'?>${HEADER.replace('jabber:client', 'jabber:server')}<message/>`);
  t.same([rec.errors, rec.stanzas.at(-1)?.toString()], [[], '<message xmlns="jabber:server"/>'], 'the new header and its namespace apply');

  parser.write('<!-- now broken -->');
  t.equal(rec.condition, 'restricted-xml');
  parser.reset();
  parser.write(`${HEADER}<presence/>`);
  t.equal(rec.stanzas.at(-1)?.name, 'presence', 'reset() also clears an error');
  parser.end();
  parser.write('<message/>');
  t.equal(rec.stanzas.at(-1)?.name, 'presence', 'input after end() is ignored');
});

t.test('parseElement', async (t) => {
  const el = parseElement(`<message xmlns='jabber:client' to="a@b"><body>1 &lt; 2\r\n</body><x xmlns='urn:x'/></message>`);
  t.equal(el.getChildText('body'), '1 < 2\r\n', 'text is kept exactly');
  t.equal(el.getChild('x', 'urn:x')?.parent, el);
  t.equal(parseElement(' <a/> ').toString(), '<a/>', 'surrounding whitespace is fine');
  const bad = ['<a/><b/>', '<a>', '<a></b>', 'text<a/>', '<a><!-- c --></a>', '', '<a>&foo;</a>'];
  for (const input of bad) t.throws(() => parseElement(input), { name: 'StreamError' }, JSON.stringify(input));
});

t.test('atBoundary / continueStream: a stream handed to another parser between two stanzas', (t) => {
  const rec = new Recorder();
  const p = new StreamParser(rec);
  t.notOk(p.atBoundary(), 'not before the stream header');
  p.write(Buffer.from(HEADER));
  t.ok(p.atBoundary(), 'right after the header');
  p.write(Buffer.from("<message id='1'><body>a"));
  t.notOk(p.atBoundary(), 'not inside a stanza');
  p.write(Buffer.from('</body></message>  <'));
  t.notOk(p.atBoundary(), "not with a '<' waiting for its tag name");
  p.write(Buffer.from('presence/>\n'));
  t.ok(p.atBoundary(), 'between stanzas, whitespace consumed');
  const penguin = Buffer.from('🐧');
  p.write(Buffer.concat([Buffer.from("<message id='2'><body>"), penguin, Buffer.from('</body></message>'), penguin.subarray(0, 2)]));
  t.notOk(p.atBoundary(), 'not with the first bytes of a UTF-8 sequence waiting in the decoder');
  t.equal(rec.stanzas[2]?.getChildText('body'), '🐧');
  t.same(
    rec.stanzas.map((s) => s.name),
    ['message', 'presence', 'message'],
  );

  const root = p.streamRoot();
  t.equal(root?.name, 'stream:stream');
  const next = new Recorder();
  const q = new StreamParser(next);
  q.continueStream(root?.name as string, root?.attrs as Record<string, string>);
  t.ok(q.atBoundary(), 'the new parser starts between stanzas');
  q.write(Buffer.from("<iq type='get' id='3'><ping xmlns='urn:xmpp:ping'/></iq>"));
  t.equal(next.header, undefined, 'no stream header is reported again');
  t.equal(next.stanzas[0]?.attrs.xmlns, 'jabber:client', "the stream's default namespace still applies");
  q.write(Buffer.from("<?xml version='1.0'?>"));
  t.equal(next.errors[0]?.condition, 'restricted-xml', 'an XML declaration is refused inside the stream');
  const closing = new StreamParser(new Recorder());
  closing.continueStream(root?.name as string, root?.attrs as Record<string, string>);
  closing.write('</stream:stream>');
  t.notOk(closing.atBoundary(), 'a closed stream is no boundary');
  t.end();
});
