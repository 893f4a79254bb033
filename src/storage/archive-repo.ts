// ArchiveStore (XEP-0313) over libSQL: personal archives in users' files (owner = the user's bare JID) and room
// archives in group chat files (owner = the room's bare JID); the DbResolver finds the file from the owner alone.
// Schema and indexes: src/storage/migrations/groups-archive.ts. Writes go through the file's WriteBatcher (one
// transaction per event-loop turn, resolved after commit); reads through its client.
//
// Paging is by `seq` (archive order, XEP-0313 §3.1), never by timestamp: RSM ids are resolved to their seq first,
// then every page is one range scan of (owner, seq) or (owner, with_jid, seq) in the paging direction, LIMIT max+1
// (the extra row tells whether the page is the last one: XEP-0313 §4.3 'complete').
import type { InValue, Row } from '@libsql/client';
import type { ArchivedStanza, ArchivePage, ArchiveQuery, ArchiveStore } from './ports.ts';
import { type DbResolver, intCol, textCol, type UserDb } from './user-db.ts';

/** XEP-0313 §4.1.2/§4.3: an id named in after/before/after-id/before-id/ids is not in the archive. */
export function archiveItemNotFound(id: string): Error {
  return Object.assign(new Error(`ERR_ITEM_NOT_FOUND: no archived item ${JSON.stringify(id)}`), { code: 'ERR_ITEM_NOT_FOUND' });
}

/** `bare/resource` → [bare, resource] ('' when there is no resource). */
export function splitWith(jid: string): [string, string] {
  const slash = jid.indexOf('/');
  return slash === -1 ? [jid, ''] : [jid.slice(0, slash), jid.slice(slash + 1)];
}

/** Rows deleted per statement by removeOwner, so deleting a huge archive never blocks the thread for long. */
const REMOVE_CHUNK = 1000;

const COLUMNS = 'seq, id, ts, with_jid, with_resource, xml';

export class ArchiveRepo implements ArchiveStore {
  readonly #dbs: DbResolver;
  /**
   * The last append queued per owner: reads wait for it, so a client that sends a message and then queries
   * its archive finds the message (read-your-writes), without flushing anybody else's writes.
   */
  readonly #pending = new Map<string, Promise<unknown>>();

  constructor(resolver: DbResolver) {
    this.#dbs = resolver;
  }

  async append(owner: string, entry: ArchivedStanza): Promise<void> {
    const db = await this.#dbs.forKey(owner);
    const [withBare, withResource] = splitWith(entry.with);
    const write = db.writer.enqueue({
      sql: 'INSERT INTO archive (owner, id, ts, with_jid, with_resource, xml) VALUES (?, ?, ?, ?, ?, ?)',
      args: [owner, entry.id, entry.ts, withBare, withResource, entry.xml],
    });
    const settled = write.then(
      () => undefined,
      () => undefined,
    );
    this.#pending.set(owner, settled);
    void settled.then(() => {
      if (this.#pending.get(owner) === settled) this.#pending.delete(owner);
    });
    await write;
  }

  async #reader(owner: string): Promise<UserDb> {
    const db = await this.#dbs.forKey(owner);
    const pending = this.#pending.get(owner);
    if (pending !== undefined) await pending;
    return db;
  }

  async query(owner: string, q: ArchiveQuery): Promise<ArchivePage> {
    const db = await this.#reader(owner);
    const c = db.client;
    const seqOf = async (id: string): Promise<number> => {
      const rs = await c.execute({ sql: 'SELECT seq FROM archive WHERE owner = ? AND id = ?', args: [owner, id] });
      const row = rs.rows[0];
      if (row === undefined) throw archiveItemNotFound(id);
      return intCol(row, 'seq');
    };

    // The filter (XEP-0313 §4.1): what `count` counts.
    const where: string[] = ['owner = ?'];
    const args: InValue[] = [owner];
    if (q.with !== undefined) {
      const [bare, resource] = splitWith(q.with);
      where.push('with_jid = ?');
      args.push(bare);
      // §4.1.1: a full JID matches only that resource; a bare JID matches every resource.
      if (resource !== '') {
        where.push('with_resource = ?');
        args.push(resource);
      }
    }
    if (q.start !== undefined) {
      where.push('ts >= ?');
      args.push(q.start);
    }
    if (q.end !== undefined) {
      where.push('ts <= ?');
      args.push(q.end);
    }
    if (q.ids !== undefined) {
      // §4.1.2: every requested id must exist, or the whole query fails with item-not-found.
      const rs = await c.execute({
        sql: 'SELECT id FROM archive WHERE owner = ? AND id IN (SELECT value FROM json_each(?))',
        args: [owner, JSON.stringify(q.ids)],
      });
      const found = new Set(rs.rows.map((r) => textCol(r, 'id')));
      for (const id of q.ids) if (!found.has(id)) throw archiveItemNotFound(id);
      where.push('id IN (SELECT value FROM json_each(?))');
      args.push(JSON.stringify(q.ids));
    }
    if (q.afterId !== undefined) {
      where.push('seq > ?');
      args.push(await seqOf(q.afterId));
    }
    if (q.beforeId !== undefined) {
      where.push('seq < ?');
      args.push(await seqOf(q.beforeId));
    }

    // RSM paging (XEP-0059 §2.2-2.5): bounds on top of the filter, not counted.
    const page = [...where];
    const pageArgs = [...args];
    if (q.after !== undefined) {
      page.push('seq > ?');
      pageArgs.push(await seqOf(q.after));
    }
    if (q.before !== undefined && q.before !== '') {
      page.push('seq < ?');
      pageArgs.push(await seqOf(q.before));
    }
    // <before/> (empty or not) pages backwards from the end: newest rows first, reversed below.
    const backwards = q.before !== undefined;
    // max 0 (XEP-0059 §2.7, count only) still reads one row: it tells whether the (empty) page is complete.
    const rs0 = await c.execute({
      sql: `SELECT ${COLUMNS} FROM archive WHERE ${page.join(' AND ')} ORDER BY seq ${backwards ? 'DESC' : 'ASC'} LIMIT ?`,
      args: [...pageArgs, q.max + 1],
    });
    let rows: Row[] = rs0.rows;
    const complete = rows.length <= q.max;
    if (!complete) rows = rows.slice(0, q.max);
    if (backwards) rows.reverse();
    const items = rows.map(toStanza);

    // XEP-0059 <count/>: from the trigger-kept counters when the filter is only the owner and/or a bare 'with'
    // (the common queries), else by counting the filter's rows. <first index/>: counted on the side the page was
    // reached from, so paging from either end costs the distance travelled, not the archive's size.
    const countWhere = async (extra: string, extraArgs: InValue[]): Promise<number> => {
      const rs = await c.execute({
        sql: `SELECT count(*) AS n FROM archive WHERE ${[...where, extra].join(' AND ')}`,
        args: [...args, ...extraArgs],
      });
      return rs.rows[0] === undefined ? 0 : intCol(rs.rows[0], 'n');
    };
    const onlyOwnerAndBareWith = where.length === 1 || (where.length === 2 && q.with !== undefined);
    let count: number;
    if (onlyOwnerAndBareWith) {
      const rs = await c.execute(
        q.with === undefined
          ? { sql: 'SELECT coalesce(sum(n), 0) AS n FROM archive_counts WHERE owner = ?', args: [owner] }
          : {
              sql: 'SELECT coalesce(sum(n), 0) AS n FROM archive_counts WHERE owner = ? AND with_jid = ?',
              args: [owner, args[1] as InValue],
            },
      );
      count = rs.rows[0] === undefined ? 0 : intCol(rs.rows[0], 'n');
    } else {
      count = await countWhere('1', []);
    }
    let firstIndex = 0;
    const firstRow = rows[0];
    const lastRow = rows[rows.length - 1];
    if (firstRow !== undefined && lastRow !== undefined) {
      if (backwards) {
        const newer = q.before === '' ? 0 : await countWhere('seq > ?', [intCol(lastRow, 'seq')]);
        firstIndex = count - newer - rows.length;
      } else if (q.after !== undefined) {
        firstIndex = await countWhere('seq < ?', [intCol(firstRow, 'seq')]);
      }
    }
    return { items, complete, count, firstIndex };
  }

  async get(owner: string, id: string): Promise<ArchivedStanza | undefined> {
    const db = await this.#reader(owner);
    const rs = await db.client.execute({ sql: `SELECT ${COLUMNS} FROM archive WHERE owner = ? AND id = ?`, args: [owner, id] });
    const row = rs.rows[0];
    return row === undefined ? undefined : toStanza(row);
  }

  async replace(owner: string, id: string, xml: string): Promise<boolean> {
    const db = await this.#dbs.forKey(owner);
    const rs = await db.writer.enqueue({ sql: 'UPDATE archive SET xml = ? WHERE owner = ? AND id = ?', args: [xml, owner, id] });
    return rs.rowsAffected > 0;
  }

  async bounds(owner: string): Promise<{ first?: { id: string; ts: number }; last?: { id: string; ts: number } }> {
    const db = await this.#reader(owner);
    const one = async (order: 'ASC' | 'DESC') => {
      const rs = await db.client.execute({
        sql: `SELECT id, ts FROM archive WHERE owner = ? ORDER BY seq ${order} LIMIT 1`,
        args: [owner],
      });
      const row = rs.rows[0];
      return row === undefined ? undefined : { id: textCol(row, 'id'), ts: intCol(row, 'ts') };
    };
    const first = await one('ASC');
    const last = await one('DESC');
    return first === undefined || last === undefined ? {} : { first, last };
  }

  async expire(before: number, limit: number, owner?: string, except?: ReadonlySet<string>): Promise<number> {
    if (limit <= 0) return 0;
    const dbs = owner === undefined ? await this.#dbs.existing() : [await this.#dbs.forKey(owner)];
    // Owners with their own retention are swept separately (json_each: one bound argument however many).
    const spare = owner === undefined && except !== undefined && except.size > 0 ? JSON.stringify([...except]) : undefined;
    let deleted = 0;
    for (const db of dbs) {
      if (deleted >= limit) break;
      // Oldest first through archive_by_ts (XEP-0313 §3.2: only the oldest messages may be discarded), at most
      // `limit` rows per call so one call blocks the thread for a bounded time.
      const where =
        owner !== undefined ? ' AND owner = ?' : spare !== undefined ? ' AND owner NOT IN (SELECT value FROM json_each(?))' : '';
      const args: InValue[] = [before];
      if (owner !== undefined) args.push(owner);
      else if (spare !== undefined) args.push(spare);
      args.push(limit - deleted);
      const rs = await db.writer.enqueue({
        sql: `DELETE FROM archive WHERE seq IN (SELECT seq FROM archive WHERE ts < ?${where} ORDER BY ts, seq LIMIT ?)`,
        args,
      });
      deleted += rs.rowsAffected;
    }
    return deleted;
  }

  async removeOwner(owner: string): Promise<void> {
    const db = await this.#dbs.forKey(owner);
    for (;;) {
      const rs = await db.writer.enqueue({
        sql: 'DELETE FROM archive WHERE seq IN (SELECT seq FROM archive WHERE owner = ? ORDER BY seq LIMIT ?)',
        args: [owner, REMOVE_CHUNK],
      });
      if (rs.rowsAffected < REMOVE_CHUNK) return;
    }
  }
}

function toStanza(row: Row): ArchivedStanza {
  const bare = textCol(row, 'with_jid');
  const resource = textCol(row, 'with_resource');
  return { id: textCol(row, 'id'), ts: intCol(row, 'ts'), with: resource === '' ? bare : `${bare}/${resource}`, xml: textCol(row, 'xml') };
}
