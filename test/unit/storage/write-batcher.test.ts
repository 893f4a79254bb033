import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Client, createClient, type InStatement, type ResultSet } from '@libsql/client';
import t from 'tap';
import { type BatchInfo, DEFAULT_MAX_BATCH_STATEMENTS, WriteBatcher } from '../../../src/storage/write-batcher.ts';
import { WriteConnection } from '../../../src/storage/write-connection.ts';

type T = Parameters<Parameters<typeof t.test>[0]>[0];

async function table(tt: T, file = join(tt.testdir(), 'w.db')): Promise<Client> {
  const client = createClient({ url: pathToFileURL(file).href, concurrency: 1 });
  tt.teardown(() => client.close());
  await client.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
  return client;
}

const insert = (v: string): InStatement => ({ sql: 'INSERT INTO t (v) VALUES (?)', args: [v] });

async function values(client: Client): Promise<string[]> {
  const rs = await client.execute('SELECT v FROM t ORDER BY id');
  return rs.rows.map((r) => String(r['v']));
}

t.test('enqueues of one turn commit in one transaction', async (t) => {
  const client = await table(t);
  const batches: BatchInfo[] = [];
  const w = new WriteBatcher(client, { maxStatements: 100, onBatch: (b) => batches.push(b) });
  const all = Array.from({ length: 100 }, (_, i) => w.enqueue(insert(`v${i}`)));
  t.equal(w.pending, 100, 'nothing written synchronously');
  const results = await Promise.all(all);
  t.equal(batches.length, 1, 'one batch');
  t.match(batches[0], { units: 100, statements: 100, ok: true });
  t.ok(
    results.every((rs) => rs.rowsAffected === 1),
    'each promise gets its own ResultSet',
  );
  t.same(
    results.map((rs) => Number(rs.lastInsertRowid)),
    Array.from({ length: 100 }, (_, i) => i + 1),
    'in order',
  );
  t.equal((await values(client)).length, 100);
  await w.enqueue(insert('later'));
  t.equal(batches.length, 2, 'a later turn is a new batch');
});

t.test('the default cap splits a burst', async (t) => {
  const client = await table(t);
  const sizes: number[] = [];
  const w = new WriteBatcher(client, { onBatch: (b) => sizes.push(b.statements) });
  const n = DEFAULT_MAX_BATCH_STATEMENTS * 2 + 1;
  await Promise.all(Array.from({ length: n }, (_, i) => w.enqueue(insert(`v${i}`))));
  t.same(sizes, [DEFAULT_MAX_BATCH_STATEMENTS, DEFAULT_MAX_BATCH_STATEMENTS, 1]);
});

t.test('batches are capped and yield a turn between them', async (t) => {
  const client = await table(t);
  const sizes: number[] = [];
  const w = new WriteBatcher(client, { maxStatements: 10, onBatch: (b) => sizes.push(b.statements) });
  const all = Array.from({ length: 25 }, (_, i) => w.enqueue(insert(`v${i}`)));
  let seenByNextTurn = -1;
  setImmediate(() => (seenByNextTurn = sizes.length));
  await Promise.all(all);
  t.same(sizes, [10, 10, 5]);
  t.equal(seenByNextTurn, 1, 'other callbacks ran after the first batch, before the second');
  t.same(
    await values(client),
    Array.from({ length: 25 }, (_, i) => `v${i}`),
    'enqueue order kept',
  );
});

t.test('a unit larger than the cap commits alone and atomically', async (t) => {
  const client = await table(t);
  const sizes: number[] = [];
  const w = new WriteBatcher(client, { maxStatements: 2, onBatch: (b) => sizes.push(b.statements) });
  const [a, unit] = await Promise.all([w.enqueue(insert('a')), w.enqueueUnit([insert('b'), insert('c'), insert('d')])]);
  t.equal(a.rowsAffected, 1);
  t.equal(unit.length, 3);
  t.same(sizes, [1, 3]);
});

t.test('one failing statement does not fail its neighbours', async (t) => {
  const client = await table(t);
  const batches: BatchInfo[] = [];
  const w = new WriteBatcher(client, { onBatch: (b) => batches.push(b) });
  const outcomes = await Promise.allSettled([
    w.enqueue(insert('a')),
    w.enqueue(insert('b')),
    w.enqueue(insert('a')), // UNIQUE violation
    w.enqueue(insert('c')),
    w.enqueueUnit([insert('d'), insert('b')]), // the unit fails as a whole: 'd' must not be written
    w.enqueue(insert('e')),
  ]);
  t.same(
    outcomes.map((o) => o.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
  );
  const bad = outcomes[2];
  t.match(bad?.status === 'rejected' ? bad.reason : undefined, { code: 'SQLITE_CONSTRAINT' });
  t.same(await values(client), ['a', 'b', 'c', 'e'], 'serial semantics: as if each unit had its own transaction');
  t.same(
    batches.map((b) => b.ok),
    [false, false, true],
    'one retry per bad unit',
  );
  t.match(w.stats, { failedUnits: 2, retries: 2 });
});

t.test('a failure libSQL cannot attribute falls back to one transaction per unit', async (t) => {
  const real = await table(t);
  let calls = 0;
  // Only batch() is used by the batcher; the first call fails as a COMMIT-time error would (no index).
  const flaky = {
    batch: (stmts: InStatement[], mode?: 'write'): Promise<ResultSet[]> => {
      if (calls++ === 0) return Promise.reject(new Error('disk I/O error'));
      return real.batch(stmts, mode);
    },
  } as unknown as Client;
  const w = new WriteBatcher(flaky);
  const outcomes = await Promise.allSettled([w.enqueue(insert('a')), w.enqueue(insert('a')), w.enqueue(insert('b'))]);
  t.same(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  t.equal(calls, 4, 'one failed batch, then three single-unit transactions');
  t.same(await values(real), ['a', 'b']);
});

t.test('flush commits without waiting for the next turn; close drains then refuses', async (t) => {
  const client = await table(t);
  const w = new WriteBatcher(client);
  const p = w.enqueue(insert('a'));
  await w.flush();
  t.same(await values(client), ['a'], 'committed by flush');
  t.equal((await p).rowsAffected, 1);
  await w.flush(); // nothing queued: resolves
  t.same(await w.enqueueUnit([]), [], 'an empty unit is a no-op');

  const q = w.enqueue(insert('b'));
  await w.close();
  t.equal((await q).rowsAffected, 1, 'queued before close: committed');
  await t.rejects(w.enqueue(insert('c')), { message: /^ERR_STORE_CLOSED/ });
  t.throws(() => new WriteBatcher(client, { maxStatements: 0 }), RangeError);
});

// The same contract over WriteConnection (write-connection.ts), the connection UserDb gives its batcher: a second
// connection to the file, with statements kept prepared.

async function connTable(tt: T): Promise<{ client: Client; conn: WriteConnection }> {
  const file = join(tt.testdir(), 'w.db');
  const client = await table(tt, file);
  await client.execute('PRAGMA journal_mode = WAL');
  await client.execute('CREATE TABLE p (id INTEGER PRIMARY KEY)');
  await client.execute('CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES p (id), b, d)');
  const conn = new WriteConnection(file, { busyTimeoutMs: 5000 });
  tt.teardown(() => conn.close());
  return { client, conn };
}

t.test('WriteConnection: one turn, one transaction, ResultSets in order, statements prepared once', async (t) => {
  const { client, conn } = await connTable(t);
  const batches: BatchInfo[] = [];
  const w = new WriteBatcher(conn, { maxStatements: 100, onBatch: (b) => batches.push(b) });
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => w.enqueue(insert(`v${i}`))));
  t.equal(batches.length, 1);
  t.same(
    results.map((rs) => [rs.rowsAffected, Number(rs.lastInsertRowid)]),
    Array.from({ length: 100 }, (_, i) => [1, i + 1]),
  );
  t.same(
    await values(client),
    Array.from({ length: 100 }, (_, i) => `v${i}`),
    'the reading connection sees the commit',
  );
  await w.enqueue(insert('single')); // one statement: autocommit
  await Promise.all([w.enqueue(insert('x')), w.enqueue(insert('y'))]);
  t.equal(conn.preparedStatements, 1, 'one INSERT text, prepared once, reused by every batch');
  t.equal((await values(client)).length, 103);
});

t.test('WriteConnection: a failing statement is named, its unit rejected, neighbours committed', async (t) => {
  const { client, conn } = await connTable(t);
  const w = new WriteBatcher(conn);
  const outcomes = await Promise.allSettled([
    w.enqueue(insert('a')),
    w.enqueue(insert('a')), // UNIQUE violation
    w.enqueueUnit([insert('d'), insert('a')]), // fails as a whole
    w.enqueue(insert('e')),
  ]);
  t.same(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
  );
  const bad = outcomes[1];
  t.match(bad?.status === 'rejected' ? bad.reason : undefined, {
    name: 'LibsqlBatchError',
    code: 'SQLITE_CONSTRAINT',
    extendedCode: 'SQLITE_CONSTRAINT_UNIQUE', // what waddle-repo's notDuplicate looks for
  });
  t.same(await values(client), ['a', 'e']);
  t.match(w.stats, { failedUnits: 2, retries: 2 });
  // Alone (autocommit path): rejected with the same error shape, the connection still usable.
  await t.rejects(conn.batch([insert('a')]), { name: 'LibsqlBatchError', statementIndex: 0, code: 'SQLITE_CONSTRAINT' });
  await t.rejects(conn.batch([insert('f'), insert('a')]), { name: 'LibsqlBatchError', statementIndex: 1 });
  t.same(await values(client), ['a', 'e'], 'the failed transaction rolled back');
  t.equal((await conn.batch([insert('g')]))[0]?.rowsAffected, 1);
});

t.test('WriteConnection: per-connection PRAGMAs, argument conversion, RETURNING rows, closed', async (t) => {
  const { client, conn } = await connTable(t);
  const [sync, fk] = await conn.batch(['PRAGMA synchronous', 'PRAGMA foreign_keys']);
  t.equal(sync?.rows[0]?.[0], 1, 'synchronous = NORMAL on the writing connection');
  t.equal(fk?.rows[0]?.[0], 1, 'foreign_keys = ON on the writing connection');
  await t.rejects(conn.batch([{ sql: 'INSERT INTO c (p) VALUES (?)', args: [42] }]), { code: 'SQLITE_CONSTRAINT' }, 'FK enforced');
  await conn.batch([{ sql: 'INSERT INTO p (id) VALUES (?)', args: [1] }]);
  // The engine aborts the process on a boolean; the connection converts it (and Dates) as the client does.
  const [row] = await conn.batch([
    { sql: 'INSERT INTO c (p, b, d) VALUES (:p, :b, :d) RETURNING id, b, d', args: { ':p': 1, ':b': true, ':d': new Date(5) } },
  ]);
  t.same(row?.columns, ['id', 'b', 'd']);
  t.match(row?.rows[0], { id: 1, b: 1, d: 5 });
  t.equal(row?.rows[0]?.[1], 1, 'rows readable by index too');
  const rs = await client.execute('SELECT b, d FROM c');
  t.match(rs.rows[0], { b: 1, d: 5 });
  await t.rejects(conn.batch([{ sql: 'INSERT INTO c (p, b) VALUES (?, ?)', args: [1, undefined as never] }]), {
    name: 'LibsqlBatchError',
    message: /undefined/,
  });
  conn.close();
  await t.rejects(conn.batch([insert('z')]), { code: 'CLIENT_CLOSED' });
});

t.test('WriteConnection.query: rows as the client shapes them, statement kept prepared, reads only', async (t) => {
  const { client, conn } = await connTable(t);
  await client.execute({ sql: 'INSERT INTO t (v) VALUES (?), (?)', args: ['a', 'b'] });
  const sql = 'SELECT id, v FROM t WHERE v >= ? ORDER BY id';
  const mine = await conn.query({ sql, args: ['a'] });
  const theirs = await client.execute({ sql, args: ['a'] });
  t.same(mine.columns, theirs.columns);
  t.same(
    mine.rows.map((r) => [r[0], r['v']]),
    theirs.rows.map((r) => [r[0], r['v']]),
    'same values, by index and by name',
  );
  t.equal((await conn.query({ sql, args: ['b'] })).rows.length, 1);
  t.equal(conn.preparedStatements, 1, 'one text, prepared once');
  await client.execute({ sql: 'INSERT INTO t (v) VALUES (?)', args: ['c'] });
  t.equal((await conn.query({ sql, args: ['a'] })).rows.length, 3, 'sees what another connection committed');
  await t.rejects(conn.query({ sql: 'INSERT INTO t (v) VALUES (?)', args: ['d'] }), /statements that return rows/);
  await t.rejects(conn.query('SELECT nope FROM t'), /no such column/);
  conn.close();
  await t.rejects(conn.query({ sql, args: ['a'] }), { code: 'CLIENT_CLOSED' });
});
