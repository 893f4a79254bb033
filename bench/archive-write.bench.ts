// Room archive writes as a MUC shard makes them: ROOMS rooms (default 10) in group chat files (GroupDbs, one
// WriteBatcher per file), each archiving RATE messages/s (default 200), issued one append per event-loop turn and
// interleaved across rooms, through the production path (ArchiveRepo.append, awaited as broadcastMessage awaits it
// before fanning out). Measures thread CPU per append (minus the pacing loop's own CPU, measured alone first),
// commit latency (append called → promise resolved) and the batches the WriteBatchers made.
//
//   PATH=node_modules/.bin:$PATH node bench/archive-write.bench.ts [--via writer|client] [--rooms 10] [--rate 200]
//        [--seconds 5] [--prefill 0] [--drop "TRIGGER archive_count_insert"]...
// --via client: the same batcher over @libsql/client's `batch` (what every write used before WriteConnection).
// --prefill N: N rows per room (INSERT … SELECT) before measuring, so index depth matches a used archive.
// --drop X: `DROP X` on every file first (what a trigger or an index costs per append; not a supported schema).
// --queries N: then N times "append to room0, then query its latest 50" (MAM on join): what a query costs when
// the reading connection's page cache was just invalidated by a commit on the writing connection.
// Bounded: fixed duration, appends issued at a fixed rate.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Placement } from '../src/shard/placement.ts';
import { ArchiveRepo } from '../src/storage/archive-repo.ts';
import { GroupDbs } from '../src/storage/group-dbs.ts';
import type { DbResolver, UserDb } from '../src/storage/user-db.ts';
import { WriteBatcher } from '../src/storage/write-batcher.ts';

const { values: o } = parseArgs({
  options: {
    via: { type: 'string', default: 'writer' },
    rooms: { type: 'string', default: '10' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '5' },
    prefill: { type: 'string', default: '0' },
    drop: { type: 'string', multiple: true, default: [] },
    queries: { type: 'string', default: '0' },
  },
});
const ROOMS = Number(o.rooms);
const RATE = Number(o.rate); // per room
const SECONDS = Number(o.seconds);
const PREFILL = Number(o.prefill);
const DOMAIN = 'localhost';
const BODY = 'wherefore art thou '.repeat(6);
const roomJid = (r: number): string => `room${r}@conference.${DOMAIN}`;

const threadCpuUs = (): number => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

/**
 * Issues `total` appends at RATE × ROOMS per second, one per turn (a 1 ms timer releases the due ones, each in its
 * own setImmediate), rooms in turn. `append` undefined: the pacing loop alone.
 */
async function paced(seconds: number, append: ((room: number, i: number) => Promise<void>) | undefined): Promise<number[]> {
  const perSec = RATE * ROOMS;
  const total = Math.round(perSec * seconds);
  const latencies: number[] = [];
  const inFlight: Promise<void>[] = [];
  const t0 = performance.now();
  let issued = 0;
  await new Promise<void>((done) => {
    const issueOne = (): void => {
      const i = issued++;
      if (append !== undefined) {
        const t = performance.now();
        inFlight.push(append(i % ROOMS, i).then(() => void latencies.push(performance.now() - t)));
      }
      if (issued === total) done();
    };
    let released = 0;
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * perSec));
      let n = due - released;
      released = due;
      const next = (): void => {
        if (n-- <= 0) return;
        issueOne();
        setImmediate(next);
      };
      next();
      if (released < total) setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(inFlight);
  return latencies;
}

const xmlOf = (room: number, i: number): string =>
  `<message xmlns='jabber:client' from='${roomJid(room)}/u${i % 50}' type='groupchat' id='m${i}'><body>${BODY}${i}</body>` +
  `<stanza-id xmlns='urn:xmpp:sid:0' by='${roomJid(room)}' id='${crypto.randomUUID()}'/></message>`;

const dir = await mkdtemp(join(tmpdir(), 'waddle-archive-write-'));
const dbs = new GroupDbs({ dataDir: dir, domain: DOMAIN, placement: new Placement(1), shard: 'all' });
try {
  const files = new Map<string, UserDb>();
  for (let r = 0; r < ROOMS; r++) {
    const db = await dbs.forKey(roomJid(r));
    files.set(db.path, db);
  }
  for (const db of files.values()) for (const d of o.drop) await db.client.execute(`DROP ${d}`);
  for (let r = 0; r < ROOMS && PREFILL > 0; r++) {
    const db = await dbs.forKey(roomJid(r));
    await db.client.execute({
      sql: `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
            INSERT INTO archive (owner, id, ts, with_jid, with_resource, xml)
            SELECT ?, lower(hex(randomblob(16))), ? + i, 'u' || (i % 50) || '@${DOMAIN}', 'muc', '<message>' || hex(randomblob(200)) || '</message>' FROM n`,
      args: [PREFILL, roomJid(r), Date.now() - PREFILL],
    });
  }
  // --via client: the same batcher, committing through the client's `batch` on the reading connection.
  const viaClient = new Map<string, WriteBatcher>();
  const resolver: DbResolver =
    o.via === 'client'
      ? {
          forKey: async (key) => {
            const db = await dbs.forKey(key);
            let w = viaClient.get(db.path);
            if (w === undefined) {
              w = new WriteBatcher(db.client);
              viaClient.set(db.path, w);
            }
            return { path: db.path, client: db.client, writer: w } as unknown as UserDb;
          },
          ifExists: (key) => dbs.ifExists(key),
          existing: () => dbs.existing(),
        }
      : dbs;
  const repo = new ArchiveRepo(resolver);
  const append = (room: number, i: number): Promise<void> =>
    repo.append(roomJid(room), { id: crypto.randomUUID(), ts: Date.now(), with: `u${i % 50}@${DOMAIN}/res`, xml: xmlOf(room, i) });

  await paced(1, append); // warm-up: JIT, statement caches, page cache
  const i0 = threadCpuUs();
  await paced(SECONDS / 2, undefined);
  const idleUsPerSlot = (threadCpuUs() - i0) / (RATE * ROOMS * (SECONDS / 2));

  const writers = o.via === 'client' ? [...viaClient.values()] : [...files.values()].map((d) => d.writer);
  const before = writers.map((w) => ({ ...w.stats }));
  const c0 = threadCpuUs();
  const latencies = await paced(SECONDS, append);
  const cpuUs = threadCpuUs() - c0;
  let batches = 0;
  let units = 0;
  let maxBatchMs = 0;
  writers.forEach((w, k) => {
    batches += w.stats.batches - (before[k]?.batches ?? 0);
    units += w.stats.units - (before[k]?.units ?? 0);
    maxBatchMs = Math.max(maxBatchMs, w.stats.maxBatchMs);
  });
  const sorted = latencies.sort((a, b) => a - b);
  const queryMs: number[] = [];
  const q0 = threadCpuUs();
  for (let i = 0; i < Number(o.queries); i++) {
    await append(0, i);
    const t = performance.now();
    await repo.query(roomJid(0), { max: 50, before: '' });
    queryMs.push(performance.now() - t);
  }
  const queryCpuUs = (threadCpuUs() - q0) / Math.max(1, queryMs.length);
  queryMs.sort((a, b) => a - b);
  const result = {
    bench: 'archive-room-writes',
    node: process.version,
    via: o.via,
    rooms: ROOMS,
    files: files.size,
    ratePerRoom: RATE,
    prefillPerRoom: PREFILL,
    dropped: o.drop,
    appends: latencies.length,
    cpuUsPerAppend: round(cpuUs / latencies.length - idleUsPerSlot),
    idleUsPerSlot: round(idleUsPerSlot),
    unitsPerBatch: round(units / batches, 2),
    commitMs: { p50: round(quantile(sorted, 0.5), 3), p99: round(quantile(sorted, 0.99), 3), max: round(sorted.at(-1) ?? 0, 3) },
    maxBatchMs: round(maxBatchMs, 2),
    ...(queryMs.length > 0
      ? {
          appendThenLatest50: {
            queries: queryMs.length,
            p50Ms: round(quantile(queryMs, 0.5), 3),
            p99Ms: round(quantile(queryMs, 0.99), 3),
            cpuUsPerPair: round(queryCpuUs),
          },
        }
      : {}),
  };
  console.log(JSON.stringify(result));
} finally {
  await dbs.close();
  await rm(dir, { recursive: true, force: true });
}
