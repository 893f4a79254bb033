// RosterStore over libSQL user-group files (RFC 6121 §2, versions per XEP-0237). The version counter lives
// in roster_versions and is bumped by triggers on roster_items (migrations/users.ts), so put/remove only
// change the item and read the counter back in the same transaction.
import type { Row } from '@libsql/client';
import type { RosterItem, RosterStore, Subscription } from './ports.ts';
import { intCol, textCol, textOrNullCol, type UserDbResolver } from './user-db.ts';

const ITEM_COLUMNS = 'contact, name, subscription, ask_out, pending_in, approved, groups';
const VERSION_SQL = 'SELECT coalesce((SELECT version FROM roster_versions WHERE jid = ?), 0) AS version';

export class RosterRepo implements RosterStore {
  readonly #dbs: UserDbResolver;

  constructor(dbs: UserDbResolver) {
    this.#dbs = dbs;
  }

  async list(jid: string): Promise<{ version: number; items: RosterItem[] }> {
    const db = await this.#dbs.forUser(jid);
    // One read transaction, so the version always describes exactly these items.
    const [v, items] = await db.client.batch(
      [
        { sql: VERSION_SQL, args: [jid] },
        { sql: `SELECT ${ITEM_COLUMNS} FROM roster_items WHERE jid = ? ORDER BY contact`, args: [jid] },
      ],
      'read',
    );
    return { version: versionOf(v?.rows[0]), items: (items?.rows ?? []).map(itemFromRow) };
  }

  async get(jid: string, contact: string): Promise<RosterItem | undefined> {
    const db = await this.#dbs.forUser(jid);
    const rs = await db.client.execute({
      sql: `SELECT ${ITEM_COLUMNS} FROM roster_items WHERE jid = ? AND contact = ?`,
      args: [jid, contact],
    });
    const row = rs.rows[0];
    return row === undefined ? undefined : itemFromRow(row);
  }

  async put(jid: string, item: RosterItem): Promise<number> {
    const db = await this.#dbs.forUser(jid);
    const rs = await db.writer.enqueueUnit([
      {
        sql: `INSERT INTO roster_items (jid, ${ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (jid, contact) DO UPDATE SET name = excluded.name, subscription = excluded.subscription,
            ask_out = excluded.ask_out, pending_in = excluded.pending_in, approved = excluded.approved,
            groups = excluded.groups`,
        args: [
          jid,
          item.contact,
          item.name,
          item.subscription,
          item.askOut ? 1 : 0,
          item.pendingIn ? 1 : 0,
          item.approved ? 1 : 0,
          JSON.stringify(item.groups),
        ],
      },
      { sql: VERSION_SQL, args: [jid] },
    ]);
    return versionOf(rs[1]?.rows[0]);
  }

  async remove(jid: string, contact: string): Promise<number> {
    const db = await this.#dbs.forUser(jid);
    const rs = await db.writer.enqueueUnit([
      { sql: 'DELETE FROM roster_items WHERE jid = ? AND contact = ?', args: [jid, contact] },
      { sql: VERSION_SQL, args: [jid] },
    ]);
    return versionOf(rs[1]?.rows[0]);
  }

  async version(jid: string): Promise<number> {
    const db = await this.#dbs.forUser(jid);
    const rs = await db.client.execute({ sql: VERSION_SQL, args: [jid] });
    return versionOf(rs.rows[0]);
  }
}

function versionOf(row: Row | undefined): number {
  if (row === undefined) throw new Error('roster version query returned no row');
  return intCol(row, 'version');
}

const SUBSCRIPTIONS: ReadonlySet<string> = new Set<Subscription>(['none', 'to', 'from', 'both']);

function itemFromRow(row: Row): RosterItem {
  const subscription = textCol(row, 'subscription');
  if (!SUBSCRIPTIONS.has(subscription)) throw new TypeError(`bad roster subscription ${subscription}`);
  return {
    contact: textCol(row, 'contact'),
    name: textOrNullCol(row, 'name'),
    subscription: subscription as Subscription,
    askOut: intCol(row, 'ask_out') === 1,
    pendingIn: intCol(row, 'pending_in') === 1,
    approved: intCol(row, 'approved') === 1,
    groups: parseGroups(textCol(row, 'groups')),
  };
}

function parseGroups(json: string): string[] {
  const v: unknown = JSON.parse(json);
  if (!Array.isArray(v) || !v.every((g): g is string => typeof g === 'string')) {
    throw new TypeError('roster groups column is not a JSON array of strings');
  }
  return v;
}
