// BlockStore over libSQL user-group files (XEP-0191). Items are passed as one JSON array parameter
// (json_each), so a block/unblock of any size is one statement and one unit of the write batch.
import type { BlockStore } from './ports.ts';
import { textCol, type UserDbResolver } from './user-db.ts';

export class BlockRepo implements BlockStore {
  readonly #dbs: UserDbResolver;

  constructor(dbs: UserDbResolver) {
    this.#dbs = dbs;
  }

  async list(jid: string): Promise<string[]> {
    const db = await this.#dbs.forUser(jid);
    const rs = await db.client.execute({ sql: 'SELECT item FROM blocks WHERE jid = ? ORDER BY item', args: [jid] });
    return rs.rows.map((row) => textCol(row, 'item'));
  }

  async add(jid: string, items: string[]): Promise<void> {
    if (items.length === 0) return;
    const db = await this.#dbs.forUser(jid);
    // XEP-0191 §3.3: blocking an already blocked JID is not an error.
    await db.writer.enqueue({
      sql: 'INSERT OR IGNORE INTO blocks (jid, item) SELECT ?, value FROM json_each(?)',
      args: [jid, JSON.stringify(items)],
    });
  }

  async remove(jid: string, items: string[]): Promise<void> {
    if (items.length === 0) return;
    const db = await this.#dbs.forUser(jid);
    await db.writer.enqueue({
      sql: 'DELETE FROM blocks WHERE jid = ? AND item IN (SELECT value FROM json_each(?))',
      args: [jid, JSON.stringify(items)],
    });
  }

  async clear(jid: string): Promise<void> {
    const db = await this.#dbs.forUser(jid);
    await db.writer.enqueue({ sql: 'DELETE FROM blocks WHERE jid = ?', args: [jid] });
  }
}
