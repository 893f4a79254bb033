// Forward-only schema migrations tracked with `PRAGMA user_version` (STYLE §4.3). Migration i (0-based) brings
// the file from version i to i+1; each runs in its own write transaction together with the user_version
// bump, so a failure leaves the file at the last good version. SQLite keeps user_version in the database
// header, which is written transactionally, so the bump rolls back with the rest.
//
// Hand-written rather than a migration library: the npm ones (e.g. umzug, knex, drizzle-kit) bring their own
// bookkeeping tables, file loaders and drivers; this needs ~40 lines over the client we already use.
import type { Client, Transaction } from '@libsql/client';

export interface MigrationResult {
  from: number;
  to: number;
}

/**
 * Applies the missing scripts of `migrations` (ordered, each a semicolon-separated SQL script; never edit or
 * reorder one that has shipped, only append). Refuses a file written by a newer schema than this code knows.
 */
export async function migrate(client: Client, migrations: readonly string[]): Promise<MigrationResult> {
  const from = await userVersion(client);
  if (from > migrations.length) {
    throw new Error(`ERR_SCHEMA_TOO_NEW: database is at version ${from}, this build knows ${migrations.length}`);
  }
  let at = from;
  while (at < migrations.length) {
    // BEGIN IMMEDIATE takes the write lock before re-reading the version, so a second process opening the
    // same file at the same moment (e.g. the CLI) waits (busy_timeout) and then finds the work already done.
    const tx = await client.transaction('write');
    try {
      const current = await userVersion(tx);
      if (current > at) {
        at = current;
        await tx.rollback();
        continue;
      }
      await tx.executeMultiple(migrations[at] as string);
      // PRAGMA takes no bound parameters; `at + 1` is an integer we computed.
      await tx.execute(`PRAGMA user_version = ${at + 1}`);
      await tx.commit();
      at++;
    } finally {
      tx.close();
    }
  }
  return { from, to: at };
}

export async function userVersion(db: Client | Transaction): Promise<number> {
  const rs = await db.execute('PRAGMA user_version');
  const v = rs.rows[0]?.['user_version'];
  if (typeof v !== 'number') throw new Error(`unexpected PRAGMA user_version result: ${String(v)}`);
  return v;
}
