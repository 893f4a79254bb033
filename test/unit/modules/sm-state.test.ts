import t from 'tap';
import { SmState } from '../../../src/modules/stream-management/state.ts';
import { xml } from '../../../src/xmpp/xml.ts';

t.test('acks drop acknowledged stanzas and reject impossible counts', async (t) => {
  const s = new SmState('id', true);
  for (let i = 0; i < 5; i++) s.sent(xml('message', { id: `m${i}` }));
  t.equal(s.outbound, 5);
  t.ok(s.ack(2));
  t.same(
    s.unacked.map((u) => u.stanza.attrs.id),
    ['m2', 'm3', 'm4'],
  );
  t.ok(s.ack(2), 'the same h again changes nothing');
  t.equal(s.unacked.length, 3);
  t.notOk(s.ack(6), 'h above what was sent is refused');
  t.notOk(s.ack(-1));
  t.notOk(s.ack(1.5));
  t.ok(s.ack(5));
  t.equal(s.unacked.length, 0);
});

t.test('counters wrap at 2^32 (XEP-0198 §4)', async (t) => {
  const s = new SmState('id', true);
  s.outbound = 2 ** 32 - 2;
  s.acked = 2 ** 32 - 2;
  for (let i = 0; i < 4; i++) s.sent(xml('message', { id: `w${i}` }));
  t.equal(s.outbound, 2, 'wrapped');
  t.ok(s.ack(0), 'h after the wrap acknowledges the two before it');
  t.same(
    s.unacked.map((u) => u.stanza.attrs.id),
    ['w2', 'w3'],
  );
  s.inbound = 2 ** 32 - 1;
  s.countInbound();
  t.equal(s.inbound, 0);
});
