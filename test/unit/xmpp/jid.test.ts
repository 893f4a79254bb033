import t from 'tap';
import { bareOf, fullOf, JidError, parseJid, tryParseJid } from '../../../src/xmpp/jid.ts';

t.test('parses and normalises', async (t) => {
  t.same(
    parseJid('Alice@LocalHost/Phone'),
    { local: 'alice', domain: 'localhost', resource: 'Phone', bare: 'alice@localhost' },
    'resource keeps its case',
  );
  t.same(parseJid('localhost'), { local: '', domain: 'localhost', resource: '', bare: 'localhost' });
  t.same(parseJid('example.org./r'), { local: '', domain: 'example.org', resource: 'r', bare: 'example.org' }, 'trailing dot stripped');
  t.same(parseJid('a@b/c/d'), { local: 'a', domain: 'b', resource: 'c/d', bare: 'a@b' }, 'a resource may contain slashes');
  t.equal(parseJid('ＡＢＣ@localhost').local, 'abc', 'NFKC folds full-width letters');
  t.equal(bareOf(parseJid('a@b/c')), 'a@b');
  t.equal(fullOf(parseJid('a@b/c')), 'a@b/c');
  t.equal(fullOf(parseJid('a@b')), 'a@b');
  t.equal(bareOf(parseJid('A@B/x')), bareOf(parseJid('a@b/y')), 'bare JIDs of one account compare equal');
});

t.test('rejects what RFC 7622 forbids', async (t) => {
  for (const bad of [
    '',
    '@localhost',
    'a@',
    'a@b/',
    'a b@localhost',
    'a"b@localhost',
    "a'b@localhost",
    'a:b@localhost',
    'a<b@localhost',
    `${'x'.repeat(1024)}@localhost`,
  ]) {
    t.throws(() => parseJid(bad), JidError, JSON.stringify(bad.slice(0, 20)));
    t.equal(tryParseJid(bad), undefined);
  }
  t.equal(tryParseJid(undefined), undefined);
});
