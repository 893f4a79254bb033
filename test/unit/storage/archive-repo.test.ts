// libSQL-specific behaviour of ArchiveRepo: the statements it runs are index range scans on a large archive
// (asserted with EXPLAIN QUERY PLAN, not timing), it serves group chat files as well as users' files, and reads
// see the owner's own queued writes. The behavioural contract is in user-stores.contract.test.ts.
import t from 'tap';
import type { InStatement } from '@libsql/client';
import { Placement } from '../../../src/shard/placement.ts';
import { ArchiveRepo } from '../../../src/storage/archive-repo.ts';
import { GroupDbs } from '../../../src/storage/group-dbs.ts';
import type { UserDb } from '../../../src/storage/user-db.ts';
import { UserDbGroups } from '../../../src/storage/user-stores.ts';

const ME = 'juliet@example.org';

/** Records every read statement the repo sends to `db`. */
function spy(db: UserDb): { sql: string; args: unknown[] }[] {
  const seen: { sql: string; args: unknown[] }[] = [];
  const execute = db.client.execute.bind(db.client) as (s: InStatement) => ReturnType<UserDb['client']['execute']>;
  (db.client as { execute: unknown }).execute = (stmt: InStatement) => {
    if (typeof stmt !== 'string') seen.push({ sql: stmt.sql, args: [...((stmt.args as unknown[] | undefined) ?? [])] });
    return execute(stmt);
  };
  return seen;
}

async function plan(db: UserDb, s: { sql: string; args: unknown[] }): Promise<string> {
  const rs = await db.client.execute({ sql: `EXPLAIN QUERY PLAN ${s.sql}`, args: s.args as never });
  return rs.rows.map((r) => String(r.detail)).join(' | ');
}

t.test('latest 50 of an owner among 100k rows: index range scans, no sort, no table scan', async (t) => {
  const groups = new UserDbGroups({ dataDir: t.testdir(), placement: new Placement(1), shard: 0 });
  t.teardown(() => groups.close());
  const repo = new ArchiveRepo(groups);
  const db = await groups.forKey(ME);
  // 100k rows for ME (every 10th with romeo), 20k for somebody else sharing the file, in one statement.
  await db.client.execute(`
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120000)
    INSERT INTO archive (owner, id, ts, with_jid, xml)
    SELECT CASE WHEN i % 6 = 0 THEN 'other@example.org' ELSE '${ME}' END, 'id' || i, 1000 + i,
           CASE WHEN i % 10 = 0 THEN 'romeo@example.net' ELSE 'nurse@example.org' END, '<message/>' FROM n`);
  const total = Number((await db.client.execute(`SELECT count(*) AS n FROM archive WHERE owner = '${ME}'`)).rows[0]?.n);
  t.equal(total, 100_000);
  const seen = spy(db);

  const last = await repo.query(ME, { max: 50, before: '' });
  t.equal(last.items.length, 50);
  t.equal(last.items[49]?.id, 'id119999', 'the newest entry of ME last');
  t.equal(last.firstIndex, 100_000 - 50);
  const pageSql = seen.find((s) => s.sql.includes('ORDER BY seq DESC'));
  t.ok(pageSql, 'the page statement was seen');
  if (pageSql) {
    const p = await plan(db, pageSql);
    t.match(p, /USING (COVERING )?INDEX archive_by_owner \(owner=\?\)/, p);
    t.notMatch(p, /TEMP B-TREE/, 'no sort step: the index gives archive order');
    t.notMatch(p, /SCAN archive(?! USING)/, 'no full table scan');
  }
  t.equal(last.count, 100_000);
  t.notOk(
    seen.some((s) => s.sql.includes('count(*)')),
    'no counting scan for the last page',
  );
  const countSql = seen.find((s) => s.sql.includes('archive_counts'));
  t.ok(countSql, 'the total comes from the trigger-kept counters');
  if (countSql) t.match(await plan(db, countSql), /SEARCH archive_counts USING PRIMARY KEY \(owner=\?\)/, 'a few rows per owner');

  seen.length = 0;
  const withRomeo = await repo.query(ME, { max: 50, before: '', with: 'romeo@example.net' });
  t.equal(withRomeo.items.length, 50);
  t.ok(
    withRomeo.items.every((i) => i.with === 'romeo@example.net'),
    'only romeo',
  );
  const withSql = seen.find((s) => s.sql.includes('ORDER BY seq DESC'));
  if (withSql) {
    const p = await plan(db, withSql);
    t.match(p, /USING (COVERING )?INDEX archive_by_with \(owner=\? AND with_jid=\?\)/, p);
    t.notMatch(p, /TEMP B-TREE/, p);
  }

  seen.length = 0;
  const after = await repo.query(ME, { max: 50, after: 'id50000' });
  t.equal(after.items[0]?.id, 'id50001');
  const rsmLookup = seen.find((s) => s.sql.startsWith('SELECT seq FROM archive'));
  if (rsmLookup)
    t.match(await plan(db, rsmLookup), /INDEX archive_by_id \(owner=\? AND id=\?\)/, 'RSM ids resolve through the unique index');

  const expire = 'SELECT seq FROM archive WHERE ts < ? ORDER BY ts, seq LIMIT ?';
  t.match(await plan(db, { sql: expire, args: [2000, 200] }), /INDEX archive_by_ts/, 'retention reads the oldest rows by index');
});

t.test('a room archive in a group chat file', async (t) => {
  const dir = t.testdir();
  const dbs = new GroupDbs({ dataDir: dir, domain: 'example.org', placement: new Placement(1), shard: 0 });
  t.teardown(() => dbs.close());
  const repo = new ArchiveRepo(dbs);
  const room = 'lobby@conference.example.org';
  await repo.append(room, { id: 'g1', ts: 1, with: 'romeo@example.net', xml: "<message type='groupchat'/>" });
  await repo.append(room, { id: 'g2', ts: 2, with: '', xml: "<message type='groupchat'/>" });
  const page = await repo.query(room, { max: 10 });
  t.same(
    page.items.map((i) => [i.id, i.with]),
    [
      ['g1', 'romeo@example.net'],
      ['g2', ''],
    ],
  );
  t.same(
    (await repo.query(room, { max: 10, with: 'romeo@example.net' })).items.map((i) => i.id),
    ['g1'],
  );
  t.equal(await repo.expire(10, 100), 2, 'expire without owner walks the shard’s group files');
});

t.test('a query waits for the same owner’s queued append (read-your-writes)', async (t) => {
  const groups = new UserDbGroups({ dataDir: t.testdir(), placement: new Placement(1), shard: 0 });
  t.teardown(() => groups.close());
  const repo = new ArchiveRepo(groups);
  const appended = repo.append(ME, { id: 'x1', ts: 1, with: 'romeo@example.net', xml: '<message/>' });
  // Not awaited: the write is still queued in the batcher when the query starts.
  const page = await repo.query(ME, { max: 10 });
  await appended;
  t.same(
    page.items.map((i) => i.id),
    ['x1'],
  );
  t.same(await repo.bounds(ME), { first: { id: 'x1', ts: 1 }, last: { id: 'x1', ts: 1 } });
});

t.test('removeOwner deletes a large archive in bounded chunks', async (t) => {
  const groups = new UserDbGroups({ dataDir: t.testdir(), placement: new Placement(1), shard: 0 });
  t.teardown(() => groups.close());
  const repo = new ArchiveRepo(groups);
  const db = await groups.forKey(ME);
  await db.client.execute(`
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
    INSERT INTO archive (owner, id, ts, with_jid, xml) SELECT '${ME}', 'id' || i, i, 'r@example.org', '<message/>' FROM n`);
  const batches: number[] = [];
  const enqueue = db.writer.enqueue.bind(db.writer);
  db.writer.enqueue = (stmt) =>
    enqueue(stmt).then((rs) => {
      batches.push(rs.rowsAffected);
      return rs;
    });
  await repo.removeOwner(ME);
  t.same(batches, [1000, 1000, 500], 'three statements of at most 1000 rows');
  t.equal((await repo.query(ME, { max: 1 })).count, 0);
});
