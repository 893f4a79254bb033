import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Client, createClient } from '@libsql/client';
import t from 'tap';
import { migrate, userVersion } from '../../../src/storage/migrate.ts';
import { USER_MIGRATIONS } from '../../../src/storage/migrations/users.ts';
import { UserDb } from '../../../src/storage/user-db.ts';

type T = Parameters<Parameters<typeof t.test>[0]>[0];

function client(tt: T, dir = tt.testdir()): Client {
  const c = createClient({ url: pathToFileURL(join(dir, 'm.db')).href, concurrency: 1 });
  tt.teardown(() => c.close());
  return c;
}

async function tables(c: Client): Promise<string[]> {
  const rs = await c.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  return rs.rows.map((r) => String(r['name']));
}

const V1 = 'CREATE TABLE a (x INTEGER);';
const V2 = 'CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1);';

t.test('applies missing migrations once, in order', async (t) => {
  const c = client(t);
  t.same(await migrate(c, [V1]), { from: 0, to: 1 });
  t.same(await migrate(c, [V1]), { from: 1, to: 1 }, 'idempotent');
  t.same(await migrate(c, [V1, V2]), { from: 1, to: 2 }, 'only the appended one runs');
  t.same(await tables(c), ['a', 'b']);
  t.equal((await c.execute('SELECT count(*) AS n FROM a')).rows[0]?.['n'], 1, 'V2 ran exactly once');
  t.equal(await userVersion(c), 2);
});

t.test('a failing migration leaves the file at the last good version', async (t) => {
  const c = client(t);
  const broken = 'CREATE TABLE b (y INTEGER); INSERT INTO nosuch VALUES (1);';
  await t.rejects(migrate(c, [V1, broken]), { message: /no such table: nosuch/ });
  t.equal(await userVersion(c), 1, 'V1 committed, V2 rolled back');
  t.same(await tables(c), ['a'], 'no half-applied table');
  t.same(await migrate(c, [V1, V2]), { from: 1, to: 2 }, 'a fixed script applies later');
});

t.test('refuses a file from a newer schema', async (t) => {
  const c = client(t);
  await c.execute('PRAGMA user_version = 3');
  await t.rejects(migrate(c, [V1]), { message: /^ERR_SCHEMA_TOO_NEW/ });
});

t.test('user files: PRAGMAs set and schema reopened without re-running migrations', async (t) => {
  const path = join(t.testdir(), 'users', 'group-07.db');
  const db = await UserDb.open(path);
  // The result column is not always named after the pragma (busy_timeout answers in `timeout`).
  const pragma = async (name: string): Promise<unknown> => (await db.client.execute(`PRAGMA ${name}`)).rows[0]?.[0];
  t.equal(await pragma('journal_mode'), 'wal');
  t.equal(await pragma('synchronous'), 1, 'NORMAL');
  t.equal(await pragma('foreign_keys'), 1);
  t.equal(await pragma('busy_timeout'), 5000);
  t.equal(await userVersion(db.client), USER_MIGRATIONS.length);
  await db.writer.enqueue({ sql: "INSERT INTO blocks (jid, item) VALUES ('a@x', 'b@x')", args: [] });
  await db.close();

  const again = await UserDb.open(path);
  t.teardown(() => again.close());
  t.equal(await userVersion(again.client), USER_MIGRATIONS.length, 'same version');
  t.equal((await again.client.execute('SELECT count(*) AS n FROM blocks')).rows[0]?.['n'], 1, 'data kept');
});
