// Room archive reads at scale: one room archive of ROWS messages (default 1,000,000) in a group chat file,
// queried through the real ArchiveRepo (src/storage/archive-repo.ts) the way XEP-0313 clients page it:
// the latest 50 (RSM <before/>, what a client asks on join), the latest 50 of one occupant (`with` filter,
// 1/50 of the rows), and a page of 50 in the middle (RSM <after>id</after>). Each: median and p99 wall time
// and CPU per query over QUERIES queries. Also reference statements on the client (the page SELECT alone,
// count(*) of the whole archive or of half of it: what RSM <count/> and <first index/> cost without counters),
// and appends through ArchiveRepo.append (the production write path, WriteBatcher) onto the full archive.
//
// Filling: NOT through ArchiveRepo.append (~30 µs per row, FACTS.md: ~1 min for 1M rows) but with
// INSERT … SELECT over a recursive CTE on db.client, FILL_CHUNK rows per statement (each its own
// transaction), so SQLite generates the rows itself. Rows look like the repo's: a random UUID v4-shaped id
// (XEP-0359, as newStanzaId makes), ts one second apart, with_jid one of 50 occupants, ~400 bytes of XML.
// (The client binds JS numbers as REAL, hence the CAST: `'u' || 7.0` would be 'u7.0'.)
// Bounded: fixed row and query counts plus a deadline.
//   PATH=node_modules/.bin:$PATH node bench/archive.bench.ts [rows] [queries]
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Placement } from '../src/shard/placement.ts';
import { ArchiveRepo } from '../src/storage/archive-repo.ts';
import { GroupDbs } from '../src/storage/group-dbs.ts';
import type { ArchiveQuery } from '../src/storage/ports.ts';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const QUERIES = Number(process.argv[3] ?? 200);
const APPENDS = 5000;
const FILL_CHUNK = 50_000;
const OCCUPANTS = 50;
const DEADLINE = performance.now() + 10 * 60_000;
const DOMAIN = 'localhost';
const ROOM = `bench@conference.${DOMAIN}`;
const T0 = Date.UTC(2026, 0, 1);
const BODY = 'wherefore art thou '.repeat(12);

/** The XML a room archives: the groupchat message as the room broadcast it, with its stanza-id. */
const xmlSql = `'<message xmlns=''jabber:client'' from=''${ROOM}/u' || (i % ${OCCUPANTS}) || ''' type=''groupchat'' id=''m' || i || '''><body>${BODY}' || i || '</body><stanza-id xmlns=''urn:xmpp:sid:0'' by=''${ROOM}'' id=''' || id || '''/></message>'`;

const FILL_SQL = `
  WITH RECURSIVE n(i) AS (SELECT CAST(?1 AS INTEGER) UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2),
  r AS (SELECT i, lower(hex(randomblob(16))) AS h FROM n),
  g AS (SELECT i, substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-a' || substr(h, 18, 3) || '-' || substr(h, 21, 12) AS id FROM r)
  INSERT INTO archive (owner, id, ts, with_jid, with_resource, xml)
  SELECT ?3, id, ?4 + i * 1000, 'u' || (i % ${OCCUPANTS}) || '@${DOMAIN}', 'muc', ${xmlSql} FROM g`;

interface QueryResult {
  query: string;
  queries: number;
  items: number;
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  cpuUsPerQuery: number;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;
const threadCpuUs = (): number => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function timeQueries(name: string, run: () => Promise<{ items: number; count: number }>): Promise<QueryResult> {
  for (let i = 0; i < 5; i++) await run(); // warm-up: JIT, page cache
  const ms: number[] = [];
  let last = { items: 0, count: 0 };
  const cpu0 = threadCpuUs();
  for (let i = 0; i < QUERIES && performance.now() < DEADLINE; i++) {
    const t = performance.now();
    last = await run();
    ms.push(performance.now() - t);
  }
  const cpu = threadCpuUs() - cpu0;
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    query: name,
    queries: ms.length,
    items: last.items,
    count: last.count,
    p50Ms: round(quantile(sorted, 0.5)),
    p99Ms: round(quantile(sorted, 0.99)),
    maxMs: round(sorted.at(-1) ?? Number.NaN),
    cpuUsPerQuery: Math.round(cpu / ms.length),
  };
}

const dir = await mkdtemp(join(tmpdir(), 'waddle-archive-bench-'));
const dbs = new GroupDbs({ dataDir: dir, domain: DOMAIN, placement: new Placement(1), shard: 'all' });
try {
  const repo = new ArchiveRepo(dbs);
  const db = await dbs.forKey(ROOM);

  const f0 = performance.now();
  const fillCpu0 = threadCpuUs();
  let filled = 0;
  while (filled < ROWS && performance.now() < DEADLINE) {
    const n = Math.min(FILL_CHUNK, ROWS - filled);
    await db.client.execute({ sql: FILL_SQL, args: [filled, filled + n, ROOM, T0] });
    filled += n;
  }
  const fillSec = (performance.now() - f0) / 1000;
  const fillCpuUsPerRow = (threadCpuUs() - fillCpu0) / filled;
  await db.client.execute('PRAGMA wal_checkpoint(TRUNCATE)');
  const fileMb = statSync(db.path).size / 2 ** 20;
  process.stderr.write(`[archive] ${filled} rows in ${fillSec.toFixed(1)} s, file ${fileMb.toFixed(0)} MB\n`);

  const mid = await db.client.execute({
    sql: 'SELECT id FROM archive WHERE owner = ? ORDER BY seq LIMIT 1 OFFSET ?',
    args: [ROOM, Math.floor(filled / 2)],
  });
  const midId = String(mid.rows[0]?.['id']);
  const page = async (q: ArchiveQuery) => {
    const p = await repo.query(ROOM, q);
    return { items: p.items.length, count: p.count };
  };
  const results: QueryResult[] = [
    await timeQueries('latest 50 (before: "")', () => page({ max: 50, before: '' })),
    await timeQueries(`latest 50 with u7 (1/${OCCUPANTS} of rows)`, () => page({ max: 50, before: '', with: `u7@${DOMAIN}` })),
    await timeQueries('50 after an id in the middle', () => page({ max: 50, after: midId })),
    // Reference statements straight on the client, to tell what a repo query's time is made of: the floor (one
    // index range scan of 51 rows), and what counting costs when it cannot come from counters.
    await timeQueries('  ref: page SELECT only (51 newest rows)', async () => {
      const rs = await db.client.execute({
        sql: 'SELECT seq, id, ts, with_jid, with_resource, xml FROM archive WHERE owner = ? ORDER BY seq DESC LIMIT ?',
        args: [ROOM, 51],
      });
      return { items: rs.rows.length, count: Number.NaN };
    }),
    await timeQueries('  ref: count(*) of the whole archive', async () => {
      const rs = await db.client.execute({ sql: 'SELECT count(*) AS n FROM archive WHERE owner = ?', args: [ROOM] });
      return { items: 0, count: Number(rs.rows[0]?.['n']) };
    }),
    await timeQueries('  ref: count(*) of the rows before the middle', async () => {
      const rs = await db.client.execute({
        sql: 'SELECT count(*) AS n FROM archive WHERE owner = ? AND seq < ?',
        args: [ROOM, Math.floor(filled / 2)],
      });
      return { items: 0, count: Number(rs.rows[0]?.['n']) };
    }),
  ];

  // Appends through the production path onto the full archive: all issued in one turn, then awaited.
  const a0 = performance.now();
  const aCpu0 = threadCpuUs();
  const xml = `<message xmlns='jabber:client' from='${ROOM}/u1' type='groupchat'><body>${BODY}</body></message>`;
  await Promise.all(
    Array.from({ length: APPENDS }, (_, i) =>
      repo.append(ROOM, { id: `append-${i}`, ts: T0 + (filled + i) * 1000, with: `u1@${DOMAIN}/muc`, xml }),
    ),
  );
  const appendMs = performance.now() - a0;
  const append = {
    appends: APPENDS,
    appendsPerSec: Math.round((APPENDS / appendMs) * 1000),
    cpuUsPerAppend: round((threadCpuUs() - aCpu0) / APPENDS, 1),
  };

  console.log(
    JSON.stringify({
      bench: 'archive-room-queries',
      node: process.version,
      rows: filled,
      occupants: OCCUPANTS,
      fill: { seconds: round(fillSec, 1), cpuUsPerRow: round(fillCpuUsPerRow, 2), fileMb: Math.round(fileMb) },
      results,
      append,
    }),
  );
  console.table(results);
  console.table([append]);
} finally {
  await dbs.close();
  await rm(dir, { recursive: true, force: true });
}
