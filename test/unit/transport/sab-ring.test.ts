// SabRing (src/transport/sab-ring.ts): the Channel contract, plus what only the shared-memory layout has.
import t from 'tap';
import { createRingBuffer, RING_HEADER_BYTES, recordBytes, SabRing } from '../../../src/transport/sab-ring.ts';
import { channelContract, checkFrame, makeFrame } from './channel.contract.ts';

t.test('Channel contract', (t) => {
  // Producer and consumer are separate objects over one buffer, as in two threads.
  channelContract(t, (capacity) => {
    const sab = createRingBuffer(capacity);
    return { producer: new SabRing(sab, 0, 1), consumer: new SabRing(sab, 0, 1) };
  });
  t.end();
});

t.test('createRingBuffer validates and sizes the buffer', (t) => {
  t.equal(createRingBuffer(4096).byteLength, RING_HEADER_BYTES + 4096);
  t.equal(RING_HEADER_BYTES, 128);
  t.throws(() => createRingBuffer(1000), /power of two/);
  t.throws(() => createRingBuffer(32), RangeError);
  t.throws(() => new SabRing(new SharedArrayBuffer(100), 0, 1), RangeError);
  t.end();
});

t.test('layout: head Int32 at byte 0, tail Int32 at byte 64, u32 length prefix at byte 128', (t) => {
  const sab = createRingBuffer(256);
  const ring = new SabRing(sab, 0, 1);
  const ctl = new Int32Array(sab);
  ring.trySend(Uint8Array.of(1, 2, 3));
  t.equal(Atomics.load(ctl, 16), recordBytes(3), 'tail published at byte 64');
  t.equal(recordBytes(3), 8, 'records are 4-byte aligned');
  t.equal(new Uint32Array(sab, RING_HEADER_BYTES, 1)[0], 3, 'length prefix');
  t.same([...new Uint8Array(sab, RING_HEADER_BYTES + 4, 3)], [1, 2, 3]);
  t.equal(Atomics.load(ctl, 0), 0, 'head untouched until drained');
  ring.drain(1, () => {});
  t.equal(Atomics.load(ctl, 0), 8, 'head published at byte 0');
  t.equal(ring.occupancy, 0);
  t.end();
});

t.test('positions wrap around 2^31 and 2^32 without losing frames', (t) => {
  for (const start of [0x7fffff00, -256]) {
    const sab = createRingBuffer(512);
    const ctl = new Int32Array(sab);
    Atomics.store(ctl, 0, start);
    Atomics.store(ctl, 16, start);
    const producer = new SabRing(sab, 0, 1);
    const consumer = new SabRing(sab, 0, 1);
    let sent = 0;
    let got = 0;
    const errors: string[] = [];
    for (let round = 0; round < 50; round++) {
      while (producer.trySend(makeFrame(0, sent, 20 + (sent % 60)))) sent++;
      consumer.drain(Infinity, (f) => {
        const e = checkFrame(f, 0, got, 20 + (got % 60));
        if (e) errors.push(e);
        got++;
      });
    }
    t.same(errors.slice(0, 3), [], `start ${start}`);
    t.equal(got, sent);
    t.ok(sent > 200);
  }
  t.end();
});

t.test('producer-waiting flag is a one-shot handshake', (t) => {
  const sab = createRingBuffer(256);
  const producer = new SabRing(sab, 0, 1);
  const consumer = new SabRing(sab, 0, 1);
  t.equal(consumer.takeProducerWaiting(), false);
  producer.markProducerWaiting();
  t.equal(consumer.takeProducerWaiting(), true);
  t.equal(consumer.takeProducerWaiting(), false, 'cleared by the consumer');
  t.end();
});
