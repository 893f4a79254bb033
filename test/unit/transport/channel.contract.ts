// The Channel and Mesh contracts (src/transport/channel.ts), run against SabRing/SabMesh and the
// loopback implementations (STYLE §4.4: "channel.contract.ts tests both").

import type { Test } from 'tap';
import type { Channel, Mesh, ShardId } from '../../../src/transport/channel.ts';

/** Producer and consumer views of one channel (two objects for a SAB ring, one for loopback). */
export interface ChannelPair {
  readonly producer: Channel & { readonly maxFrame: number };
  readonly consumer: Channel;
}

/** Frame `seq` from sender `from`: [u32 from][u32 seq][seq-derived bytes], length derived from seq. */
export function makeFrame(from: number, seq: number, len: number): Uint8Array {
  const f = new Uint8Array(Math.max(8, len));
  const dv = new DataView(f.buffer);
  dv.setUint32(0, from);
  dv.setUint32(4, seq);
  for (let i = 8; i < f.length; i++) f[i] = (seq * 31 + i) & 0xff;
  return f;
}

/** Returns an error text, or null if `f` is exactly makeFrame(from, seq, len). */
export function checkFrame(f: Uint8Array, from: number, seq: number, len: number): string | null {
  if (f.length !== Math.max(8, len)) return `length ${f.length} != ${Math.max(8, len)} (seq ${seq})`;
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  if (dv.getUint32(0) !== from || dv.getUint32(4) !== seq) {
    return `got ${dv.getUint32(0)}#${dv.getUint32(4)}, want ${from}#${seq}`;
  }
  for (let i = 8; i < f.length; i++) if (f[i] !== ((seq * 31 + i) & 0xff)) return `byte ${i} of seq ${seq}`;
  return null;
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const collect = (ch: Channel, max = Infinity): Uint8Array[] => {
  const out: Uint8Array[] = [];
  ch.drain(max, (f) => out.push(f.slice()));
  return out;
};

export function channelContract(t: Test, make: (capacity: number) => ChannelPair): void {
  t.test('delivers frames in order with their content', (t) => {
    const { producer, consumer } = make(4096);
    for (let i = 0; i < 40; i++) t.equal(producer.trySend(makeFrame(1, i, 8 + i)), true);
    const got = collect(consumer);
    t.equal(got.length, 40);
    t.same(got.map((f, i) => checkFrame(f, 1, i, 8 + i)).filter(Boolean), []);
    t.equal(
      consumer.drain(10, () => t.fail('no frame expected')),
      0,
      'empty channel drains nothing',
    );
    t.equal(consumer.occupancy, 0);
    t.end();
  });

  t.test('empty frames are frames', (t) => {
    const { producer, consumer } = make(256);
    t.equal(producer.trySend(new Uint8Array(0)), true);
    t.equal(producer.trySend(makeFrame(0, 7, 8)), true);
    t.equal(producer.trySend(new Uint8Array(0)), true);
    const got = collect(consumer);
    t.same(
      got.map((f) => f.length),
      [0, 8, 0],
    );
    t.end();
  });

  t.test('drain respects max and a throwing handler consumes only its frame', (t) => {
    const { producer, consumer } = make(1024);
    for (let i = 0; i < 10; i++) producer.trySend(makeFrame(0, i, 16));
    t.equal(collect(consumer, 3).length, 3);
    t.throws(
      () =>
        consumer.drain(5, () => {
          throw new Error('handler failed');
        }),
      /handler failed/,
    );
    const rest = collect(consumer);
    t.same(
      rest.map((f) => new DataView(f.buffer).getUint32(4)),
      [4, 5, 6, 7, 8, 9],
    );
    t.end();
  });

  t.test('a full channel refuses without writing, then accepts after a drain', (t) => {
    const { producer, consumer } = make(1024);
    let n = 0;
    while (producer.trySend(makeFrame(0, n, 100))) n++;
    t.ok(n >= 7 && n <= 10, `a 1 KiB ring holds about nine 104-byte records (took ${n})`);
    const before = producer.occupancy;
    t.equal(producer.trySend(makeFrame(0, 999, 100)), false);
    t.equal(producer.occupancy, before, 'a refused frame leaves no trace');
    t.equal(producer.stats.rejectedFull, 2);
    t.equal(collect(consumer, 1).length, 1);
    t.equal(producer.trySend(makeFrame(0, n, 100)), true, 'room again after a drain');
    const got = collect(consumer);
    t.same(got.map((f, i) => checkFrame(f, 0, i + 1, 100)).filter(Boolean), [], 'the refused frame never appears');
    t.end();
  });

  t.test('oversize frames are rejected with ERR_FRAME_TOO_LARGE; the largest allowed one always fits', (t) => {
    const { producer, consumer } = make(1024);
    const max = producer.maxFrame;
    t.equal(max, 508);
    t.throws(() => producer.trySend(new Uint8Array(max + 1)), { name: 'FrameTooLargeError', code: 'ERR_FRAME_TOO_LARGE' });
    try {
      producer.trySend(new Uint8Array(max + 1));
      t.fail('should have thrown');
    } catch (err) {
      t.ok(err instanceof RangeError, 'FrameTooLargeError is a RangeError');
    }
    t.throws(() => producer.trySend(new Uint8Array(1 << 20)), /ERR_FRAME_TOO_LARGE/);
    t.equal(producer.occupancy, 0);
    // Walk the head over every 4-byte offset; an empty ring must take a max-size frame at each.
    for (let off = 0; off < 1024; off += 4) {
      t.equal(producer.trySend(new Uint8Array(max).fill(off & 0xff)), true, `max frame fits (step ${off / 4})`);
      const got = collect(consumer);
      if (got.length !== 1 || got[0]?.length !== max || got[0][max - 1] !== (off & 0xff)) t.fail(`bad max frame at ${off}`);
      t.equal(producer.trySend(new Uint8Array(0)), true);
      collect(consumer);
    }
    t.end();
  });

  t.test('wrap-around over many laps with frames of varied sizes', (t) => {
    const cap = 1024;
    const { producer, consumer } = make(cap);
    const rand = prng(42);
    const sizes: number[] = [];
    let sent = 0;
    let received = 0;
    let bytes = 0;
    let refusals = 0;
    const errors: string[] = [];
    const take = (f: Uint8Array): void => {
      const e = checkFrame(f, 3, received, sizes[received] as number);
      if (e) errors.push(e);
      received++;
    };
    while (bytes < 200 * cap) {
      // Fill until refused, then drain a random part: the boundary moves across the whole buffer.
      for (;;) {
        const len = rand() < 0.1 ? 0 : Math.floor(rand() * producer.maxFrame);
        sizes[sent] = len;
        if (!producer.trySend(makeFrame(3, sent, len))) {
          refusals++;
          break;
        }
        bytes += Math.max(8, len);
        sent++;
      }
      consumer.drain(1 + Math.floor(rand() * (sent - received)), take);
    }
    consumer.drain(Infinity, take);
    t.same(errors.slice(0, 5), [], 'every frame intact and in order');
    t.equal(received, sent);
    t.ok(refusals > 100, `ring filled many times (${refusals})`);
    t.ok(bytes >= 200 * cap, `${bytes} bytes went around a ${cap}-byte ring`);
    t.equal(producer.stats.sent, sent);
    t.equal(consumer.stats.received, received);
    t.equal(producer.stats.rejectedFull, refusals);
    t.equal(consumer.occupancy, 0);
    t.end();
  });
}

/** Resolves when `cond()` holds, polling every few ms; rejects after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function meshContract(t: Test, make: (shards: number, ringBytes: number) => Mesh[]): void {
  t.test('shape: channelTo, inbound', (t) => {
    const [m0] = make(3, 1024);
    if (!m0) throw new Error('no mesh');
    t.equal(m0.self, 0);
    t.equal(m0.shards, 3);
    t.equal(m0.channelTo(2).to, 2);
    t.equal(m0.channelTo(2).from, 0);
    t.throws(() => m0.channelTo(0), RangeError, 'no channel to self');
    t.same(
      m0
        .inbound()
        .map((c) => c.from)
        .sort(),
      [1, 2],
    );
    t.ok(m0.inbound().every((c) => c.to === 0));
    t.end();
  });

  t.test('every frame arrives once, in order per sender, through full rings', async (t) => {
    const shards = 3;
    const perPeer = 3000;
    const meshes = make(shards, 1024);
    const next = meshes.map(() => new Array<number>(shards).fill(0));
    const errors: string[] = [];
    const pressure = meshes.map(() => 0);
    const writable = meshes.map(() => 0);
    for (const m of meshes) {
      m.start({
        onFrame: (from: ShardId, f) => {
          const row = next[m.self] as number[];
          const seq = row[from] as number;
          const e = checkFrame(f, from, seq, seq % 97);
          if (e) errors.push(`${from}->${m.self}: ${e}`);
          row[from] = seq + 1;
        },
        onBackpressure: () => {
          pressure[m.self] = (pressure[m.self] ?? 0) + 1;
        },
        onWritable: () => {
          writable[m.self] = (writable[m.self] ?? 0) + 1;
        },
      });
    }
    t.teardown(() => {
      for (const m of meshes) m.stop();
    });
    const buf = new Uint8Array(200); // reused on purpose: queued frames must be copies
    for (let seq = 0; seq < perPeer; seq++) {
      for (const m of meshes) {
        for (let peer = 0; peer < shards; peer++) {
          if (peer === m.self) continue;
          const f = makeFrame(m.self, seq, seq % 97);
          buf.set(f);
          m.send(peer, buf.subarray(0, f.length));
          buf.fill(0xee);
        }
      }
      if (seq === 0) t.equal(next[1]?.[0], 0, 'delivery is asynchronous, never inside send()');
      if (seq % 500 === 499) await new Promise((r) => setImmediate(r)); // let consumers run sometimes
    }
    t.ok(
      meshes.some((m) => m.backpressured),
      'small rings forced frames into the pending queue',
    );
    await until(() => next.every((row, self) => row.every((n, from) => from === self || n === perPeer)), 20_000, 'all frames');
    await until(() => meshes.every((m) => !m.backpressured), 5000, 'queues to drain');
    t.same(errors.slice(0, 5), []);
    t.ok(
      pressure.every((n) => n > 0),
      `onBackpressure fired on every shard (${pressure})`,
    );
    t.ok(
      writable.every((n) => n > 0),
      `onWritable fired on every shard (${writable})`,
    );
    await new Promise((r) => setTimeout(r, 20));
    t.same(
      next,
      next.map((row, self) => row.map((_, from) => (from === self ? 0 : perPeer))),
      'no duplicates',
    );
  });

  t.test('send rejects oversize frames even behind a queue', (t) => {
    const [m0] = make(2, 1024);
    if (!m0) throw new Error('no mesh');
    const max = (m0.channelTo(1) as Channel & { maxFrame: number }).maxFrame;
    t.throws(() => m0.send(1, new Uint8Array(max + 1)), { code: 'ERR_FRAME_TOO_LARGE' });
    while (!m0.backpressured) m0.send(1, new Uint8Array(100));
    t.throws(() => m0.send(1, new Uint8Array(max + 1)), { code: 'ERR_FRAME_TOO_LARGE' });
    t.end();
  });

  t.test('stop halts delivery; frames wait for the next start', async (t) => {
    const [m0, m1] = make(2, 4096);
    if (!m0 || !m1) throw new Error('no mesh');
    const got: number[] = [];
    const handlers = { onFrame: (_from: ShardId, f: Uint8Array) => void got.push(f[0] as number) };
    m1.start(handlers);
    m0.send(1, Uint8Array.of(1));
    await until(() => got.length === 1, 2000, 'first frame');
    m1.stop();
    m0.send(1, Uint8Array.of(2));
    await new Promise((r) => setTimeout(r, 30));
    t.same(got, [1], 'nothing delivered while stopped');
    m1.start(handlers);
    await until(() => got.length === 2, 2000, 'frame after restart');
    t.same(got, [1, 2]);
    t.throws(() => m1.start(handlers), /already started/);
    m1.stop();
  });
}
