// Unit tests of the pure helpers of the `idle` and `presence` scenarios (no server).
// Run: PATH=node_modules/.bin:$PATH npx tap bench/test/idle-presence.test.ts (not part of `npm test`).
import t from 'tap';
import { parseStamp } from '../loadgen/presence-driver.ts';
import { type IdleRecord, idleTable, idleUsersOf, kbPerConnection } from '../scenarios/idle.ts';
import { contactsOf } from '../scenarios/presence.ts';

t.test('contactsOf gives C distinct mutual contacts, never the user itself', async (t) => {
  const users = 50;
  const contacts = 8;
  for (let i = 0; i < users; i++) {
    const mine = contactsOf(i, users, contacts);
    t.equal(new Set(mine).size, contacts, `user ${i} has ${contacts} distinct contacts`);
    t.notOk(mine.includes(i), 'not itself');
    // Subscription 'both' needs both sides to list each other (RFC 6121 §3).
    for (const c of mine) t.ok(contactsOf(c, users, contacts).includes(i), `${c} lists ${i} back`);
  }
  t.same(
    contactsOf(0, 10, 4).sort((a, b) => a - b),
    [1, 2, 8, 9],
    'wraps around the ring',
  );
});

t.test('idleUsersOf splits the users over the threads exactly once', async (t) => {
  const all = [0, 1, 2].flatMap((k) => idleUsersOf(10, 3, k)).sort((a, b) => a - b);
  t.same(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.same(idleUsersOf(10, 3, 1), [1, 4, 7]);
  t.same(idleUsersOf(2, 4, 3), [], 'more threads than users leaves some empty');
});

t.test('kbPerConnection converts the RSS growth (MiB) to KB per connection', async (t) => {
  t.equal(kbPerConnection(100, 110, 1024), 10);
  t.ok(Number.isNaN(kbPerConnection(100, 110, 0)), 'no connections: not a number');
});

t.test('parseStamp reads sender.seq.µs and rejects anything else', async (t) => {
  t.same(parseStamp('12.3.987654321'), { sender: 12, seq: 3, stampUs: 987654321 });
  t.equal(parseStamp('Away'), null);
  t.equal(parseStamp('1.2'), null);
  t.equal(parseStamp('a.b.c'), null);
});

t.test('idleTable adds a median row over runs', async (t) => {
  const rec = (run: number, kb: number): IdleRecord => ({
    scenario: 'idle',
    target: 'waddle',
    run,
    date: '',
    config: {
      workers: 2,
      transport: 'plain',
      mechanism: 'SCRAM-SHA-256',
      connections: 10,
      settleSec: 1,
      durationSec: 1,
      genThreads: 1,
      addresses: 1,
      pinServer: null,
      pinGenerator: null,
    },
    machine: { nproc: 2, cpu: 'x', node: 'v24' },
    connected: 10,
    loginSec: 1,
    baselineRssMb: 100,
    rssMb: 101,
    rssAfterMb: 101,
    peakRssMb: 101,
    kbPerConnection: kb,
    idleServerCpuSec: 0,
    idleServerCores: 0,
    hostOtherCores: 0,
    loginServerCpuSec: 1,
    disconnects: 0,
    firstError: null,
  });
  const table = idleTable([rec(1, 10), rec(2, 30), rec(3, 20)]);
  const median = table.split('\n').find((l) => l.includes('**median**')) ?? '';
  t.match(median, /\| 20\.0 \|/, 'median KB/conn is 20.0');
  t.equal(table.split('\n').length, 6, 'header, separator, 3 runs, median');
  t.match(table, /\| waddle plain \| 10 \| 1 \|/, 'rows name the target');
  t.match(idleTable([{ ...rec(1, 40), target: 'prosody' }]), /\| prosody plain \|/, 'a peer run says which peer');
});
