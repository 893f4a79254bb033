import t from 'tap';
import { decodeEnvelope, encodeEnvelope, FrameKind } from '../../../src/transport/envelope.ts';

t.test('round trip, including multi-byte text and large ids', async (t) => {
  const payload = "<message to='b@localhost'><body>héllo ☃ 𝄞</body></message>";
  const frame = encodeEnvelope(FrameKind.SessionIn, 3, 0xfffffffe, 123456, payload);
  t.same(decodeEnvelope(frame), { kind: FrameKind.SessionIn, src: 3, a: 0xfffffffe, b: 123456, payload });
  t.equal(frame.byteLength, 12 + Buffer.byteLength(payload));
});

t.test('decodes from a view into shared memory at an offset', async (t) => {
  const frame = encodeEnvelope(FrameKind.Route, 1, 7, 0, '<presence/>');
  const sab = new SharedArrayBuffer(64);
  const view = new Uint8Array(sab, 8, frame.byteLength);
  view.set(frame);
  t.same(decodeEnvelope(view), { kind: FrameKind.Route, src: 1, a: 7, b: 0, payload: '<presence/>' });
});
