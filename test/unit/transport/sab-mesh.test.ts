// SabMesh in one thread (several shards attached side by side): the Mesh contract and the SAB wiring.
// Real worker threads are in sab-mesh.workers.test.ts.
import t from 'tap';
import { attachMesh, createMeshInit } from '../../../src/transport/sab-mesh.ts';
import { until, meshContract } from './channel.contract.ts';

const attachAll = (shards: number, ringBytes: number) => {
  const init = createMeshInit(shards, ringBytes);
  return Array.from({ length: shards }, (_, self) => attachMesh(init, self));
};

t.test('Mesh contract', (t) => {
  meshContract(t, attachAll);
  t.end();
});

t.test('createMeshInit lays out an N×N ring matrix and one doorbell slot per shard', (t) => {
  const init = createMeshInit(3, 1024);
  t.equal(init.shards, 3);
  t.equal(init.rings.length, 9);
  t.same(
    init.rings.map((r) => r === null),
    [true, false, false, false, true, false, false, false, true],
    'diagonal unused',
  );
  t.ok(init.rings.every((r) => r === null || r.byteLength === 128 + 1024));
  t.equal(init.doorbells.byteLength, 3 * 64, 'one 64-byte cache line per consumer');
  t.throws(() => createMeshInit(0, 1024), /shards/);
  t.throws(() => createMeshInit(2, 1000), /power of two/);
  t.throws(() => attachMesh(init, 3), /not in/);
  t.throws(() => attachMesh({ ...init, rings: init.rings.slice(1) }, 0), /shards \* shards/);
  t.end();
});

t.test('the doorbell rings only for a sleeping consumer, at most once per turn', async (t) => {
  const [m0, m1] = attachAll(2, 4096);
  if (!m0 || !m1) throw new Error('no mesh');
  let got = 0;
  m1.start({ onFrame: () => void got++ });
  t.teardown(() => m1.stop());
  await until(() => m1.stats.sleeps === 1, 1000, 'the consumer to sleep');
  for (let i = 0; i < 50; i++) m0.send(1, Uint8Array.of(i)); // one macrotask: one flush
  await until(() => got === 50, 1000, 'delivery');
  t.equal(m0.stats.wakeupsSent, 1, '50 frames in one turn cost one notify');
  m1.stop();
  m0.send(1, Uint8Array.of(99));
  await new Promise((r) => setTimeout(r, 10));
  t.equal(m0.stats.wakeupsSent, 1, 'no notify for a consumer that is not sleeping');
});

t.test('a mesh that is not started still flushes its queue once the peer drains', async (t) => {
  const [m0, m1] = attachAll(2, 1024);
  if (!m0 || !m1) throw new Error('no mesh');
  const seen: number[] = [];
  for (let i = 0; i < 100; i++) m0.send(1, Uint8Array.of(i, 1, 2, 3, 4, 5, 6, 7));
  t.ok(m0.backpressured);
  const keep = setInterval(() => {}, 1000); // the poll timer is unref'd by design
  m1.start({ onFrame: (_f, b) => void seen.push(b[0] as number) });
  await until(() => seen.length === 100, 2000, 'queued frames');
  clearInterval(keep);
  m1.stop();
  t.same(
    seen,
    Array.from({ length: 100 }, (_, i) => i),
  );
  t.equal(m0.backpressured, false);
  const { sent, queued, pending } = m0.stats;
  t.equal(sent, 100, 'every frame reached the ring');
  t.equal(queued, 15, 'a 1 KiB ring holds 85 records of 12 bytes; the other 15 waited in the queue');
  t.equal(pending, 0);
});

t.test('stop() with output still queued keeps retrying until it is out', async (t) => {
  const [m0, m1] = attachAll(2, 1024);
  if (!m0 || !m1) throw new Error('no mesh');
  const seen: number[] = [];
  m0.start({ onFrame: () => {} });
  for (let i = 0; i < 200; i++) m0.send(1, Uint8Array.of(i, 0, 0, 0));
  t.ok(m0.backpressured);
  m0.stop();
  m1.start({ onFrame: (_f, b) => void seen.push(b[0] as number) });
  t.teardown(() => m1.stop());
  await until(() => seen.length === 200, 2000, 'queued frames after stop');
  t.same(
    seen,
    Array.from({ length: 200 }, (_, i) => i),
  );
  t.equal(m0.backpressured, false);
});

t.test('a throwing handler does not stall the loop', async (t) => {
  const [m0, m1] = attachAll(2, 4096);
  if (!m0 || !m1) throw new Error('no mesh');
  const seen: number[] = [];
  const errors: unknown[] = [];
  const onError = (err: unknown): void => void errors.push(err);
  process.prependListener('uncaughtException', onError);
  t.teardown(() => process.removeListener('uncaughtException', onError));
  m1.start({
    onFrame: (_f, b) => {
      seen.push(b[0] as number);
      if (b[0] === 1) throw new Error('boom');
    },
  });
  t.teardown(() => m1.stop());
  for (let i = 0; i < 4; i++) m0.send(1, Uint8Array.of(i));
  await until(() => seen.length === 4, 2000, 'all frames despite the throw');
  t.same(seen, [0, 1, 2, 3]);
  t.equal(errors.length, 1, 'the error surfaced');
});

t.test('a ring more than half full is drained with a larger budget in that turn', async (t) => {
  const init = createMeshInit(2, 1024);
  const m0 = attachMesh(init, 0);
  const m1 = attachMesh(init, 1, { budget: 4 });
  const perTurn = new Map<number, number>();
  const countFrame = () => {
    const turn = m1.stats.turns;
    perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
  };
  // 8 frames of 8 bytes: well under half of the ring, the plain budget of 4 per turn applies.
  for (let i = 0; i < 8; i++) m0.send(1, new Uint8Array(8));
  m1.start({ onFrame: countFrame });
  t.teardown(() => m1.stop());
  await until(() => m1.stats.received === 8, 1000, 'the first frames');
  t.same([...perTurn.values()], [4, 4], 'four frames a turn');
  perTurn.clear();
  m1.stop();
  // 48 frames of 12-byte records fill 576 of 1024 bytes: backlogged, so a turn takes 8 x 4 of them.
  for (let i = 0; i < 48; i++) m0.send(1, new Uint8Array(8));
  t.ok(m0.stats.pending === 0, 'all in the ring, none queued');
  m1.start({ onFrame: countFrame });
  await until(() => m1.stats.received === 56, 1000, 'the backlog');
  t.same([...perTurn.values()], [32, 4, 4, 4, 4], 'the first turn drains 32, then back to 4 once under half');
});
