// AccountStore over libSQL user-group files. SCRAM verifiers only (RFC 5802 §3); see ports.ts.
import type { InStatement, Row } from '@libsql/client';
import type { Account, AccountStore, ScramCredentials } from './ports.ts';
import { intCol, textCol, type UserDbResolver } from './user-db.ts';

const SELECT_COLUMNS = `jid, created_at,
  sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
  sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key`;

export class AccountRepo implements AccountStore {
  readonly #dbs: UserDbResolver;
  readonly #purgeArchive: ((jid: string) => Promise<void>) | undefined;

  /**
   * `purgeArchive` removes the user's message archive after the account is gone: an archive may hold
   * millions of rows, so it is deleted in bounded chunks rather than inside the account's transaction.
   */
  constructor(dbs: UserDbResolver, purgeArchive?: (jid: string) => Promise<void>) {
    this.#dbs = dbs;
    this.#purgeArchive = purgeArchive;
  }

  async get(jid: string): Promise<Account | undefined> {
    const db = await this.#dbs.forUser(jid);
    // Every login reads this: through the kept prepared statement (UserDb.query), not the client.
    const rs = await db.query({ sql: `SELECT ${SELECT_COLUMNS} FROM accounts WHERE jid = ?`, args: [jid] });
    const row = rs.rows[0];
    return row === undefined ? undefined : accountFromRow(row);
  }

  async create(account: Account): Promise<boolean> {
    const db = await this.#dbs.forUser(account.jid);
    const c1 = account.credentials['SHA-1'];
    const c256 = account.credentials['SHA-256'];
    const rs = await db.writer.enqueue({
      sql: `INSERT INTO accounts (${SELECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (jid) DO NOTHING`,
      args: [account.jid, account.createdAt, ...credArgs(c1), ...credArgs(c256)],
    });
    return rs.rowsAffected === 1;
  }

  async setCredentials(jid: string, creds: Account['credentials']): Promise<boolean> {
    const db = await this.#dbs.forUser(jid);
    const rs = await db.writer.enqueue({
      sql: `UPDATE accounts SET
        sha1_salt = ?, sha1_iterations = ?, sha1_stored_key = ?, sha1_server_key = ?,
        sha256_salt = ?, sha256_iterations = ?, sha256_stored_key = ?, sha256_server_key = ?
        WHERE jid = ?`,
      args: [...credArgs(creds['SHA-1']), ...credArgs(creds['SHA-256']), jid],
    });
    return rs.rowsAffected === 1;
  }

  async delete(jid: string): Promise<boolean> {
    const db = await this.#dbs.forUser(jid);
    // One unit = one transaction: the account never disappears while its roster or messages remain.
    // Explicit deletes rather than FOREIGN KEY cascades, so roster/offline/block rows do not require an
    // account row (e.g. a roster created before registration completes) and the stores stay independent.
    // roster_versions is kept on purpose (see ports.ts, XEP-0237 §2). FAST tokens go too: a re-created account
    // must not be reachable with a token issued to the old one. The accounts row is deleted last.
    const unit: InStatement[] = [
      { sql: 'DELETE FROM roster_items WHERE jid = ?', args: [jid] },
      { sql: 'DELETE FROM offline_messages WHERE jid = ?', args: [jid] },
      { sql: 'DELETE FROM blocks WHERE jid = ?', args: [jid] },
      { sql: 'DELETE FROM fast_tokens WHERE jid = ?', args: [jid] },
      { sql: 'DELETE FROM mam_prefs WHERE jid = ?', args: [jid] },
      { sql: 'DELETE FROM archive_retention WHERE jid = ?', args: [jid] },
      { sql: 'DELETE FROM accounts WHERE jid = ?', args: [jid] },
    ];
    const rs = await db.writer.enqueueUnit(unit);
    await this.#purgeArchive?.(jid);
    return rs[unit.length - 1]?.rowsAffected === 1;
  }

  async list(): Promise<string[]> {
    const out: string[] = [];
    for (const db of await this.#dbs.existing()) {
      const rs = await db.client.execute('SELECT jid FROM accounts');
      for (const row of rs.rows) out.push(textCol(row, 'jid'));
    }
    return out.sort();
  }
}

function credArgs(c: ScramCredentials): [string, number, string, string] {
  return [c.salt, c.iterations, c.storedKey, c.serverKey];
}

function accountFromRow(row: Row): Account {
  return {
    jid: textCol(row, 'jid'),
    createdAt: intCol(row, 'created_at'),
    credentials: { 'SHA-1': credFromRow(row, 'sha1'), 'SHA-256': credFromRow(row, 'sha256') },
  };
}

function credFromRow(row: Row, prefix: 'sha1' | 'sha256'): ScramCredentials {
  return {
    salt: textCol(row, `${prefix}_salt`),
    iterations: intCol(row, `${prefix}_iterations`),
    storedKey: textCol(row, `${prefix}_stored_key`),
    serverKey: textCol(row, `${prefix}_server_key`),
  };
}
