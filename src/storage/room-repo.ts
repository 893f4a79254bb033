// RoomStore over libSQL group files (one per Waddle, or per slot group for conference rooms). A room and its
// affiliations are in the same file, so a room's save is one transaction.
import type { InStatement } from '@libsql/client';
import type { RoomAffiliation, RoomStore, StoredAffiliation, StoredRoom } from './ports-rooms.ts';
import { type DbResolver, intCol, textCol } from './user-db.ts';

const AFFILIATIONS: ReadonlySet<string> = new Set(['owner', 'admin', 'member', 'outcast']);

export class RoomRepo implements RoomStore {
  readonly #dbs: DbResolver;

  constructor(resolver: DbResolver) {
    this.#dbs = resolver;
  }

  async get(room: string): Promise<StoredRoom | undefined> {
    const db = await this.#dbs.ifExists(room);
    if (db === undefined) return undefined;
    const rs = await db.client.execute({ sql: 'SELECT * FROM room_config WHERE room = ?', args: [room] });
    const row = rs.rows[0];
    if (!row) return undefined;
    const config: unknown = JSON.parse(textCol(row, 'config'));
    if (typeof config !== 'object' || config === null || Array.isArray(config))
      throw new TypeError(`room ${room}: config is not an object`);
    return {
      jid: room,
      config: config as Record<string, unknown>,
      subject: textCol(row, 'subject'),
      subjectBy: textCol(row, 'subject_by'),
      subjectAt: intCol(row, 'subject_at'),
      secret: textCol(row, 'secret'),
      createdAt: intCol(row, 'created_at'),
    };
  }

  async save(room: StoredRoom, affiliations?: readonly StoredAffiliation[]): Promise<void> {
    const db = await this.#dbs.forKey(room.jid);
    const stmts: InStatement[] = [
      {
        sql: `INSERT INTO room_config (room, config, subject, subject_by, subject_at, secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
              ON CONFLICT (room) DO UPDATE SET config = excluded.config, subject = excluded.subject,
                subject_by = excluded.subject_by, subject_at = excluded.subject_at, secret = excluded.secret`,
        args: [room.jid, JSON.stringify(room.config), room.subject, room.subjectBy, room.subjectAt, room.secret, room.createdAt],
      },
    ];
    if (affiliations) {
      stmts.push({ sql: 'DELETE FROM room_affiliations WHERE room = ?', args: [room.jid] });
      for (const a of affiliations) stmts.push(insertAffiliation(room.jid, a));
    }
    await db.writer.enqueueUnit(stmts);
  }

  async remove(room: string): Promise<void> {
    const db = await this.#dbs.forKey(room);
    await db.writer.enqueueUnit([
      { sql: 'DELETE FROM room_affiliations WHERE room = ?', args: [room] },
      { sql: 'DELETE FROM room_config WHERE room = ?', args: [room] },
    ]);
  }

  async affiliations(room: string): Promise<StoredAffiliation[]> {
    const db = await this.#dbs.ifExists(room);
    if (db === undefined) return [];
    const rs = await db.client.execute({
      sql: 'SELECT jid, affiliation, nick, reason FROM room_affiliations WHERE room = ? ORDER BY jid',
      args: [room],
    });
    return rs.rows.map((row) => {
      const affiliation = textCol(row, 'affiliation');
      if (!AFFILIATIONS.has(affiliation)) throw new TypeError(`room ${room}: bad affiliation ${affiliation}`);
      return {
        jid: textCol(row, 'jid'),
        affiliation: affiliation as RoomAffiliation,
        nick: textCol(row, 'nick'),
        reason: textCol(row, 'reason'),
      };
    });
  }

  async setAffiliation(room: string, entry: StoredAffiliation | { jid: string; affiliation: 'none' }): Promise<void> {
    const db = await this.#dbs.forKey(room);
    if (entry.affiliation === 'none') {
      await db.writer.enqueue({ sql: 'DELETE FROM room_affiliations WHERE room = ? AND jid = ?', args: [room, entry.jid] });
      return;
    }
    await db.writer.enqueue(insertAffiliation(room, entry));
  }

  async list(domain: string): Promise<string[]> {
    const out: string[] = [];
    for (const db of await this.#dbs.existing()) {
      const rs = await db.client.execute({ sql: "SELECT room FROM room_config WHERE room LIKE '%@' || ? ORDER BY room", args: [domain] });
      for (const row of rs.rows) {
        const room = textCol(row, 'room');
        // LIKE treats '_' in the domain as a wildcard: check the suffix exactly.
        if (room.endsWith(`@${domain}`)) out.push(room);
      }
    }
    return out.sort();
  }
}

function insertAffiliation(room: string, a: StoredAffiliation): InStatement {
  return {
    sql: `INSERT INTO room_affiliations (room, jid, affiliation, nick, reason) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (room, jid) DO UPDATE SET affiliation = excluded.affiliation, nick = excluded.nick, reason = excluded.reason`,
    args: [room, a.jid, a.affiliation, a.nick, a.reason],
  };
}
