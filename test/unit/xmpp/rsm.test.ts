// XEP-0059 Result Set Management codec.
import t from 'tap';
import { StanzaError } from '../../../src/xmpp/errors.ts';
import { parseRsm, RSM_NS, rsmElement } from '../../../src/xmpp/rsm.ts';
import { parseElement } from '../../../src/xmpp/stream-parser.ts';

const set = (inner: string) => parseElement(`<set xmlns='${RSM_NS}'>${inner}</set>`);

t.test('parses max, after, before (empty = last page) and index', async (t) => {
  t.same(parseRsm(set('<max>10</max><after>abc</after>')), { max: 10, after: 'abc' });
  t.same(parseRsm(set('<max>0</max>')), { max: 0 }, 'max 0 asks for the count only (§2.7)');
  t.same(parseRsm(set('<before/>')), { before: '' }, 'empty before = last page (§2.5)');
  t.same(parseRsm(set('<before>xyz</before>')), { before: 'xyz' });
  t.same(parseRsm(set('<index>3</index>')), { index: 3 });
  t.same(parseRsm(set('')), {});
});

t.test('rejects malformed numbers and an empty <after/>', async (t) => {
  for (const bad of ['<max>-1</max>', '<max>ten</max>', '<max></max>', '<index>1.5</index>', '<after/>']) {
    t.throws(() => parseRsm(set(bad)), StanzaError, bad);
    try {
      parseRsm(set(bad));
    } catch (err) {
      t.equal((err as StanzaError).condition, 'bad-request', bad);
    }
  }
});

t.test('builds a response set', async (t) => {
  const el = rsmElement({ first: 'a', firstIndex: 4, last: 'b', count: 20 });
  t.equal(el.attrs.xmlns, RSM_NS);
  t.equal(el.getChild('first')?.getText(), 'a');
  t.equal(el.getChild('first')?.attrs.index, '4');
  t.equal(el.getChild('last')?.getText(), 'b');
  t.equal(el.getChild('count')?.getText(), '20');
  const empty = rsmElement({ count: 0 });
  t.equal(empty.getChild('first'), undefined, 'no <first/> for an empty page');
  t.equal(empty.getChild('count')?.getText(), '0');
  t.equal(rsmElement({ first: 'a', last: 'a' }).getChild('first')?.attrs.index, undefined);
});
