// OfflineStore over libSQL user-group files (XEP-0160). push is one INSERT … SELECT … WHERE count < max, so
// the quota check and the insert are one statement: two pushes for the same user queued in one batch cannot
// both slip under the limit.
import type { OfflineMessage, OfflineStore } from './ports.ts';
import { intCol, textCol, type UserDbResolver } from './user-db.ts';

export class OfflineRepo implements OfflineStore {
  readonly #dbs: UserDbResolver;

  constructor(dbs: UserDbResolver) {
    this.#dbs = dbs;
  }

  async push(jid: string, xml: string, stamp: number, maxPerUser: number): Promise<boolean> {
    const db = await this.#dbs.forUser(jid);
    const rs = await db.writer.enqueue({
      sql: `INSERT INTO offline_messages (jid, stamp, xml)
        SELECT ?1, ?2, ?3 WHERE (SELECT count(*) FROM offline_messages WHERE jid = ?1) < ?4`,
      args: [jid, stamp, xml, maxPerUser],
    });
    return rs.rowsAffected === 1;
  }

  async list(jid: string): Promise<OfflineMessage[]> {
    const db = await this.#dbs.forUser(jid);
    const rs = await db.client.execute({
      sql: 'SELECT id, xml, stamp FROM offline_messages WHERE jid = ? ORDER BY id',
      args: [jid],
    });
    return rs.rows.map((row) => ({ id: intCol(row, 'id'), xml: textCol(row, 'xml'), stamp: intCol(row, 'stamp') }));
  }

  async remove(jid: string, ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    const db = await this.#dbs.forUser(jid);
    // One statement whatever the number of ids (json_each), so SQLite's bound-variable limit never applies;
    // `jid = ?` keeps a user from deleting another user's messages by id.
    await db.writer.enqueue({
      sql: 'DELETE FROM offline_messages WHERE jid = ? AND id IN (SELECT value FROM json_each(?))',
      args: [jid, JSON.stringify(ids)],
    });
  }

  async count(jid: string): Promise<number> {
    const db = await this.#dbs.forUser(jid);
    const rs = await db.client.execute({ sql: 'SELECT count(*) AS n FROM offline_messages WHERE jid = ?', args: [jid] });
    const row = rs.rows[0];
    return row === undefined ? 0 : intCol(row, 'n');
  }
}
