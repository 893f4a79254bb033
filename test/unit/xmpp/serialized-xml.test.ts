import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseSerialized } from '../../../src/xmpp/serialized-xml.ts';
import { StreamParser } from '../../../src/xmpp/stream-parser.ts';
import { type Element, serialize, shallowCopy, xml } from '../../../src/xmpp/xml.ts';

const FIXTURE = readFileSync(new URL('../../fixtures/stanzas/c2s-stream.xml', import.meta.url));

/** Every stanza of the fixture stream, as the hardened parser builds them. */
function fixtureStanzas(): Element[] {
  const stanzas: Element[] = [];
  const parser = new StreamParser({
    onStreamStart: () => {},
    onStanza: (el) => stanzas.push(el),
    onStreamEnd: () => {},
    onError: (err) => {
      throw err;
    },
  });
  parser.write(FIXTURE);
  return stanzas;
}

/** Structure as plain data: name, attributes in order, children (text merged as the parser gives it). */
function shape(el: Element): unknown {
  return {
    name: el.name,
    attrs: Object.entries(el.attrs),
    children: el.children.map((c) => (typeof c === 'string' ? c : shape(c as Element))),
  };
}

t.test('reads back whatever serialize() wrote, element for element', (t) => {
  const stanzas = fixtureStanzas();
  t.ok(stanzas.length >= 4, `the fixture has stanzas (${stanzas.length})`);
  for (const el of stanzas) {
    const text = serialize(el);
    const back = parseSerialized(text);
    t.same(shape(back), shape(el), `${el.name} ${String(el.attrs.id ?? '')}`);
    t.equal(serialize(back), text, 'and serialises to the same text');
  }
  t.end();
});

t.test('escaping, odd attribute names, nesting, parents', (t) => {
  const el = xml(
    'message',
    { to: 'a@b/c', note: `"quoted" & 'single' <tag>`, __proto__x: 'y' },
    xml('body', {}, 'a < b && c > d "q" \'s\' 🐧'),
    xml('x', { xmlns: 'urn:x' }, xml('item', { jid: 'd@e' }), ' ', xml('empty', {})),
  );
  const proto = xml('presence', {});
  Object.defineProperty(proto.attrs, '__proto__', { value: 'kept', enumerable: true, writable: true, configurable: true });
  for (const sample of [el, proto, shallowCopy(el)]) {
    const back = parseSerialized(serialize(sample));
    t.same(shape(back), shape(sample));
    t.equal(serialize(back), serialize(sample));
  }
  const back = parseSerialized(serialize(el));
  t.equal(back.getChildText('body'), 'a < b && c > d "q" \'s\' 🐧');
  t.equal(back.getChild('x')?.getChild('item')?.parent, back.getChild('x'), 'children know their parent');
  t.equal(back.parent, null, 'the root has none');
  t.equal(parseSerialized('<a b="&#x1F427;&#65;"/>').attrs.b, '🐧A', 'numeric references too');
  t.end();
});

t.test('anything serialize() does not write is refused', (t) => {
  for (const bad of [
    '',
    'text',
    '<a>',
    '<a></b>',
    '<a/><b/>',
    '<a/>trailing',
    "<a b='single'/>",
    '<a b=unquoted/>',
    '<a b="open/>',
    '<a></a></a>',
    '</a>',
    '<a/ >',
    '<a',
  ]) {
    t.throws(() => parseSerialized(bad), /ERR_SERIALIZED_XML/, JSON.stringify(bad));
  }
  t.end();
});
