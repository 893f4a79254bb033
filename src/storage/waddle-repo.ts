// WaddleStore over libSQL: each Waddle's metadata, channels and permission tuples live in its own file
// (<data>/waddles/<id>.db, found by id through the resolver). Writes go through the file's WriteBatcher and
// resolve after commit; every multi-statement change is one unit, so it commits all or nothing.
import type { InStatement, Row } from '@libsql/client';
import type { ChannelRecord, Tuple, TupleChanges, WaddleRecord, WaddleStore } from './ports-waddles.ts';
import { type DbResolver, intCol, textCol } from './user-db.ts';

const WADDLE_COLS = 'id, name, created_at, created_by, retention_days';
const CHANNEL_COLS = 'waddle, name, title, restricted, created_at, created_by';

export class WaddleRepo implements WaddleStore {
  readonly #dbs: DbResolver;

  constructor(resolver: DbResolver) {
    this.#dbs = resolver;
  }

  async getWaddle(id: string): Promise<WaddleRecord | undefined> {
    const db = await this.#dbs.ifExists(id);
    if (db === undefined) return undefined;
    const rs = await db.client.execute({ sql: `SELECT ${WADDLE_COLS} FROM waddles WHERE id = ?`, args: [id] });
    const row = rs.rows[0];
    return row === undefined ? undefined : waddleOf(row);
  }

  async listWaddles(): Promise<WaddleRecord[]> {
    const out: WaddleRecord[] = [];
    // existing() also opens conference room files (same schema); their waddles table is empty.
    for (const db of await this.#dbs.existing()) {
      const rs = await db.client.execute(`SELECT ${WADDLE_COLS} FROM waddles`);
      for (const row of rs.rows) out.push(waddleOf(row));
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async createWaddle(w: WaddleRecord, tuples: readonly Tuple[]): Promise<boolean> {
    const db = await this.#dbs.forKey(w.id);
    const stmts: InStatement[] = [
      {
        sql: `INSERT INTO waddles (${WADDLE_COLS}) VALUES (?, ?, ?, ?, ?)`,
        args: [w.id, w.name, w.createdAt, w.createdBy, w.retentionDays],
      },
      ...tuples.map((t) => insertTuple(w.id, t)),
    ];
    return notDuplicate(db.writer.enqueueUnit(stmts));
  }

  async updateWaddle(id: string, patch: { name?: string; retentionDays?: number | null }): Promise<boolean> {
    const db = await this.#dbs.forKey(id);
    // Column names come from this list, never from input; `id = id` keeps the statement valid for an empty patch.
    const sets = ['id = id'];
    const args: (string | number | null)[] = [];
    if (patch.name !== undefined) {
      sets.push('name = ?');
      args.push(patch.name);
    }
    if (patch.retentionDays !== undefined) {
      sets.push('retention_days = ?');
      args.push(patch.retentionDays);
    }
    const rs = await db.writer.enqueue({ sql: `UPDATE waddles SET ${sets.join(', ')} WHERE id = ?`, args: [...args, id] });
    return rs.rowsAffected > 0;
  }

  async deleteWaddle(id: string): Promise<boolean> {
    const db = await this.#dbs.forKey(id);
    // ON DELETE CASCADE removes channels and tuples too; the explicit deletes keep that true even on a
    // connection opened without foreign_keys.
    const [rs] = await db.writer.enqueueUnit([
      { sql: 'DELETE FROM waddles WHERE id = ?', args: [id] },
      { sql: 'DELETE FROM waddle_channels WHERE waddle = ?', args: [id] },
      { sql: 'DELETE FROM tuples WHERE waddle = ?', args: [id] },
    ]);
    return (rs?.rowsAffected ?? 0) > 0;
  }

  async getChannel(waddle: string, name: string): Promise<ChannelRecord | undefined> {
    const db = await this.#dbs.ifExists(waddle);
    if (db === undefined) return undefined;
    const rs = await db.client.execute({
      sql: `SELECT ${CHANNEL_COLS} FROM waddle_channels WHERE waddle = ? AND name = ?`,
      args: [waddle, name],
    });
    const row = rs.rows[0];
    return row === undefined ? undefined : channelOf(row);
  }

  async listChannels(waddle: string): Promise<ChannelRecord[]> {
    const db = await this.#dbs.ifExists(waddle);
    if (db === undefined) return [];
    const rs = await db.client.execute({
      sql: `SELECT ${CHANNEL_COLS} FROM waddle_channels WHERE waddle = ? ORDER BY name`,
      args: [waddle],
    });
    return rs.rows.map(channelOf);
  }

  async createChannel(c: ChannelRecord, tuples: readonly Tuple[]): Promise<boolean> {
    const db = await this.#dbs.forKey(c.waddle);
    const stmts: InStatement[] = [
      {
        sql: `INSERT INTO waddle_channels (${CHANNEL_COLS}) VALUES (?, ?, ?, ?, ?, ?)`,
        args: [c.waddle, c.name, c.title, c.restricted ? 1 : 0, c.createdAt, c.createdBy],
      },
      ...tuples.map((t) => insertTuple(c.waddle, t)),
    ];
    return notDuplicate(db.writer.enqueueUnit(stmts));
  }

  async updateChannel(
    waddle: string,
    name: string,
    patch: { title?: string; restricted?: boolean },
    tuples: TupleChanges = {},
  ): Promise<boolean> {
    const db = await this.#dbs.forKey(waddle);
    const sets = ['name = name'];
    const args: (string | number)[] = [];
    if (patch.title !== undefined) {
      sets.push('title = ?');
      args.push(patch.title);
    }
    if (patch.restricted !== undefined) {
      sets.push('restricted = ?');
      args.push(patch.restricted ? 1 : 0);
    }
    const exists = 'EXISTS (SELECT 1 FROM waddle_channels WHERE waddle = ? AND name = ?)';
    const [rs] = await db.writer.enqueueUnit([
      { sql: `UPDATE waddle_channels SET ${sets.join(', ')} WHERE waddle = ? AND name = ?`, args: [...args, waddle, name] },
      ...(tuples.remove ?? []).map(deleteTuple),
      // Guarded, so a channel deleted meanwhile does not get tuples back.
      ...(tuples.add ?? []).map((t) => {
        const [subject, rel] = splitSubject(t.subject);
        return {
          sql: `INSERT OR IGNORE INTO tuples (waddle, object, relation, subject, subject_rel) SELECT ?, ?, ?, ?, ? WHERE ${exists}`,
          args: [waddle, t.object, t.relation, subject, rel, waddle, name],
        };
      }),
    ]);
    return (rs?.rowsAffected ?? 0) > 0;
  }

  async deleteChannel(waddle: string, name: string): Promise<boolean> {
    const db = await this.#dbs.forKey(waddle);
    const object = `channel:${waddle}/${name}`;
    const [rs] = await db.writer.enqueueUnit([
      { sql: 'DELETE FROM waddle_channels WHERE waddle = ? AND name = ?', args: [waddle, name] },
      { sql: 'DELETE FROM tuples WHERE object = ?', args: [object] },
      { sql: "DELETE FROM tuples WHERE subject = ? AND subject_rel <> ''", args: [object] },
    ]);
    return (rs?.rowsAffected ?? 0) > 0;
  }

  async hasTuple(waddle: string, t: Tuple): Promise<boolean> {
    const db = await this.#dbs.ifExists(waddle);
    if (db === undefined) return false;
    const [subject, rel] = splitSubject(t.subject);
    const rs = await db.client.execute({
      sql: 'SELECT 1 FROM tuples WHERE object = ? AND relation = ? AND subject_rel = ? AND subject = ?',
      args: [t.object, t.relation, rel, subject],
    });
    return rs.rows.length > 0;
  }

  async usersetsOf(waddle: string, object: string, relation: string): Promise<string[]> {
    const db = await this.#dbs.ifExists(waddle);
    if (db === undefined) return [];
    const rs = await db.client.execute({
      sql: "SELECT subject, subject_rel FROM tuples WHERE object = ? AND relation = ? AND subject_rel > '' ORDER BY subject_rel, subject",
      args: [object, relation],
    });
    return rs.rows.map((row) => `${textCol(row, 'subject')}#${textCol(row, 'subject_rel')}`);
  }

  async tuplesOf(waddle: string, object: string): Promise<Tuple[]> {
    const db = await this.#dbs.ifExists(waddle);
    if (db === undefined) return [];
    const rs = await db.client.execute({
      sql: 'SELECT relation, subject, subject_rel FROM tuples WHERE object = ? ORDER BY relation, subject_rel, subject',
      args: [object],
    });
    return rs.rows.map((row) => ({ object, relation: textCol(row, 'relation'), subject: joinSubject(row) }));
  }

  async tuplesFor(waddle: string, subject: string): Promise<Tuple[]> {
    const db = await this.#dbs.ifExists(waddle);
    if (db === undefined) return [];
    const [s, rel] = splitSubject(subject);
    const rs = await db.client.execute({
      sql: 'SELECT object, relation FROM tuples WHERE subject = ? AND subject_rel = ? ORDER BY object, relation',
      args: [s, rel],
    });
    return rs.rows.map((row) => ({ object: textCol(row, 'object'), relation: textCol(row, 'relation'), subject }));
  }

  async writeTuples(waddle: string, changes: TupleChanges): Promise<void> {
    const db = await this.#dbs.forKey(waddle);
    await db.writer.enqueueUnit([...(changes.remove ?? []).map(deleteTuple), ...(changes.add ?? []).map((t) => insertTuple(waddle, t))]);
  }
}

/** 'user:<jid>' → ['user:<jid>', '']; '<object>#<relation>' → [object, relation] (relations never hold '#'). */
function splitSubject(subject: string): [string, string] {
  if (subject.startsWith('user:')) return [subject, ''];
  const hash = subject.lastIndexOf('#');
  if (hash <= 0 || hash === subject.length - 1) throw new TypeError(`not a tuple subject: ${subject}`);
  return [subject.slice(0, hash), subject.slice(hash + 1)];
}

function joinSubject(row: Row): string {
  const rel = textCol(row, 'subject_rel');
  return rel === '' ? textCol(row, 'subject') : `${textCol(row, 'subject')}#${rel}`;
}

function insertTuple(waddle: string, t: Tuple): InStatement {
  const [subject, rel] = splitSubject(t.subject);
  return {
    sql: 'INSERT OR IGNORE INTO tuples (waddle, object, relation, subject, subject_rel) VALUES (?, ?, ?, ?, ?)',
    args: [waddle, t.object, t.relation, subject, rel],
  };
}

function deleteTuple(t: Tuple): InStatement {
  const [subject, rel] = splitSubject(t.subject);
  return {
    sql: 'DELETE FROM tuples WHERE object = ? AND relation = ? AND subject_rel = ? AND subject = ?',
    args: [t.object, t.relation, rel, subject],
  };
}

/** false when the unit failed on the primary key (the row exists); rethrows anything else (a missing Waddle: FOREIGNKEY). */
async function notDuplicate(unit: Promise<unknown>): Promise<boolean> {
  try {
    await unit;
    return true;
  } catch (err) {
    const code = (err as { extendedCode?: unknown }).extendedCode;
    if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') return false;
    throw err;
  }
}

function waddleOf(row: Row): WaddleRecord {
  const retention = row['retention_days'];
  return {
    id: textCol(row, 'id'),
    name: textCol(row, 'name'),
    createdAt: intCol(row, 'created_at'),
    createdBy: textCol(row, 'created_by'),
    retentionDays: retention === null ? null : intCol(row, 'retention_days'),
  };
}

function channelOf(row: Row): ChannelRecord {
  return {
    waddle: textCol(row, 'waddle'),
    name: textCol(row, 'name'),
    title: textCol(row, 'title'),
    restricted: intCol(row, 'restricted') === 1,
    createdAt: intCol(row, 'created_at'),
    createdBy: textCol(row, 'created_by'),
  };
}
