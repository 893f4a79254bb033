// Unit tests of the load generator's own logic (no server): the SCRAM client against the server's
// SCRAM mechanism, the latency histogram, /proc parsing and the report's medians.
// Run: PATH=node_modules/.bin:$PATH npx tap bench/test/loadgen.test.ts (not part of `npm test`).
import t from 'tap';
import { deriveCredentials } from '../../src/stream/sasl/credentials.ts';
import { createScramServer } from '../../src/stream/sasl/scram.ts';
import { LatencyHistogram } from '../loadgen/histogram.ts';
import { cpuBetween, parseStat } from '../loadgen/proc-stats.ts';
import { ScramClient } from '../loadgen/scram-client.ts';
import { median } from '../report.ts';

for (const hash of ['SHA-1', 'SHA-256'] as const) {
  t.test(`SCRAM-${hash} client logs in against the server mechanism and checks its signature`, async (t) => {
    const creds = await deriveCredentials('s3cret', 4096);
    const cache = new Map<string, Buffer>();
    for (let i = 0; i < 2; i++) {
      // A server mechanism instance serves one exchange.
      const server = createScramServer(hash, async (u) => (u === 'u7' ? creds : undefined));
      const client = new ScramClient(hash, 'u7', 's3cret', cache);
      const first = await server.start(Buffer.from(client.clientFirst()));
      t.equal(first.kind, 'challenge');
      if (first.kind !== 'challenge') return;
      const final = await server.step(Buffer.from(client.clientFinal(first.data.toString())));
      t.equal(final.kind, 'success', `login ${i + 1} succeeds`);
      if (final.kind !== 'success' || final.data === null) return;
      t.ok(client.verifyServerFinal(final.data.toString()), 'server signature verifies');
      t.notOk(client.verifyServerFinal('v=AAAA'), 'a wrong server signature does not');
    }
    t.equal(cache.size, 1, 'the salted password is derived once for one salt');
  });
}

t.test('SCRAM client with a wrong password is refused', async (t) => {
  const creds = await deriveCredentials('right', 4096);
  const server = createScramServer('SHA-256', async () => creds);
  const client = new ScramClient('SHA-256', 'u1', 'wrong', new Map());
  const first = await server.start(Buffer.from(client.clientFirst()));
  if (first.kind !== 'challenge') return t.fail('expected a challenge');
  const final = await server.step(Buffer.from(client.clientFinal(first.data.toString())));
  t.equal(final.kind, 'failure');
});

t.test('SCRAM client rejects a server nonce that does not extend its own', async (t) => {
  const client = new ScramClient('SHA-1', 'u1', 'pw', new Map());
  t.throws(() => client.clientFinal('r=someone-else,s=QUJD,i=4096'), /bad server-first-message/);
});

t.test('histogram quantiles are within ~1.1% and merge across instances', async (t) => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let v = 1; v <= 10_000; v++) (v % 2 ? a : b).record(v);
  const h = LatencyHistogram.from(a.toData());
  h.merge(b.toData());
  t.equal(h.count, 10_000);
  t.equal(h.max, 10_000);
  for (const [q, want] of [
    [0.5, 5000],
    [0.99, 9900],
  ] as const) {
    const got = h.quantile(q);
    t.ok(Math.abs(got - want) / want < 0.012, `q${q}: ${got} ≈ ${want}`);
  }
  t.equal(h.quantile(1), 10_000, 'the top quantile is the max');
  t.equal(new LatencyHistogram().quantile(0.5), 0, 'empty histogram');
});

t.test('proc stat parsing copes with spaces and parentheses in comm', async (t) => {
  // Fields 14 and 15 (utime, stime) are 120 and 30.
  const line = '42 (odd (name) x) S 1 42 42 0 -1 4194560 100 0 0 0 120 30 0 0 20 0 13 0 1 2 3';
  t.same(parseStat(line), { name: 'odd (name) x', ticks: 150 });
});

t.test('per-thread CPU: shares of the process, same-named threads numbered by tid', async (t) => {
  const a = {
    at: 0,
    ticks: 100,
    threads: [
      { tid: 10, name: 'MainThread', ticks: 50 },
      { tid: 12, name: 'WorkerThread', ticks: 20 },
      { tid: 11, name: 'WorkerThread', ticks: 30 },
    ],
  };
  const b = {
    at: 2000,
    ticks: 300,
    threads: [
      { tid: 10, name: 'MainThread', ticks: 60 },
      { tid: 12, name: 'WorkerThread', ticks: 170 },
      { tid: 11, name: 'WorkerThread', ticks: 70 },
    ],
  };
  const w = cpuBetween(a, b, 100);
  t.equal(w.cpuSec, 2);
  t.equal(w.cores, 1);
  t.same(
    w.threads.map((x) => [x.name, x.cpuSec, x.share]),
    [
      ['WorkerThread#2', 1.5, 0.75],
      ['WorkerThread#1', 0.4, 0.2],
      ['MainThread', 0.1, 0.05],
    ],
  );
});

t.test('median', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.ok(Number.isNaN(median([])));
});
