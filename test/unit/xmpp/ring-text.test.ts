// stanzaText (src/xmpp/ring-text.ts): a stanza read off a ring is written out with the text it arrived
// with only while nothing about it changed; any change at the root falls back to serialize().
import t from 'tap';
import { rememberRingText, stanzaText } from '../../../src/xmpp/ring-text.ts';
import { parseSerialized } from '../../../src/xmpp/serialized-xml.ts';
import { serialize, xml } from '../../../src/xmpp/xml.ts';

const RING =
  '<message to="bob@localhost/phone" from="alice@localhost/desk" type="chat" id="m1"><body>a &amp; b</body><active xmlns="http://jabber.org/protocol/chatstates"/></message>';

function routed() {
  const el = parseSerialized(RING);
  rememberRingText(el, RING);
  return el;
}

t.test('unchanged: the ring text itself, equal to what serialize() writes', async (t) => {
  const el = routed();
  t.equal(stanzaText(el), RING);
  t.equal(serialize(el), RING, 'the round trip the reuse relies on');
  t.equal(stanzaText(parseSerialized(RING)), RING, 'an element never remembered is serialised');
});

t.test('every kind of change at the root is seen', async (t) => {
  const changes: [string, (el: ReturnType<typeof routed>) => void][] = [
    [
      'attribute set',
      (el) => {
        el.attrs.to = 'bob@localhost';
      },
    ],
    [
      'attribute added',
      (el) => {
        el.attrs['xml:lang'] = 'en';
      },
    ],
    [
      'attribute removed',
      (el) => {
        delete el.attrs.id;
      },
    ],
    [
      'attribute set to undefined',
      (el) => {
        el.attrs.type = undefined;
      },
    ],
    [
      'child appended (a stanza-id)',
      (el) => {
        el.append(xml('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: 'bob@localhost', id: 'x' }));
      },
    ],
    [
      'child removed (<private/> stripped)',
      (el) => {
        el.children = el.children.filter((c) => typeof c === 'string' || c.name !== 'active');
      },
    ],
    [
      'child replaced',
      (el) => {
        el.children[0] = xml('body', {}, 'other');
      },
    ],
    [
      'text node added',
      (el) => {
        el.children.push('tail');
      },
    ],
    [
      'renamed',
      (el) => {
        el.name = 'presence';
      },
    ],
  ];
  for (const [what, change] of changes) {
    const el = routed();
    change(el);
    t.equal(stanzaText(el), serialize(el), what);
    t.not(stanzaText(el), RING, `${what}: not the ring text`);
  }
});

t.test('one slot: the stanza read last keeps its text, an earlier one is serialised', async (t) => {
  const first = routed();
  const second = routed();
  t.equal(stanzaText(second), RING);
  t.equal(stanzaText(first), RING, 'same text, from serialize()');
  second.attrs.id = 'changed';
  t.equal(stanzaText(second), serialize(second));
});
