// MamPrefsStore over libSQL users' files: XEP-0313 §6 (XEP-0441) archiving preferences, one row per user.
import type { MamPrefs, MamPrefsStore } from './ports.ts';
import { type DbResolver, intCol, textCol } from './user-db.ts';

const POLICIES: ReadonlySet<string> = new Set(['always', 'never', 'roster']);

export class MamPrefsRepo implements MamPrefsStore {
  readonly #dbs: DbResolver;

  constructor(resolver: DbResolver) {
    this.#dbs = resolver;
  }

  async get(jid: string): Promise<MamPrefs | undefined> {
    const db = await this.#dbs.forKey(jid);
    const rs = await db.client.execute({
      sql: 'SELECT default_policy, always_jids, never_jids FROM mam_prefs WHERE jid = ?',
      args: [jid],
    });
    const row = rs.rows[0];
    if (row === undefined) return undefined;
    const policy = textCol(row, 'default_policy');
    if (!POLICIES.has(policy)) throw new TypeError(`mam_prefs.default_policy: unexpected ${policy}`);
    return {
      default: policy as MamPrefs['default'],
      always: jidList(textCol(row, 'always_jids')),
      never: jidList(textCol(row, 'never_jids')),
    };
  }

  async set(jid: string, prefs: MamPrefs): Promise<void> {
    const db = await this.#dbs.forKey(jid);
    await db.writer.enqueue({
      sql: `INSERT INTO mam_prefs (jid, default_policy, always_jids, never_jids) VALUES (?, ?, ?, ?)
        ON CONFLICT (jid) DO UPDATE SET default_policy = excluded.default_policy,
          always_jids = excluded.always_jids, never_jids = excluded.never_jids`,
      args: [jid, prefs.default, JSON.stringify(prefs.always), JSON.stringify(prefs.never)],
    });
  }

  async retention(jid: string): Promise<number | undefined> {
    const db = await this.#dbs.forKey(jid);
    const rs = await db.client.execute({ sql: 'SELECT days FROM archive_retention WHERE jid = ?', args: [jid] });
    const row = rs.rows[0];
    return row === undefined ? undefined : intCol(row, 'days');
  }

  async setRetention(jid: string, days: number | null): Promise<void> {
    if (days !== null && !(Number.isInteger(days) && days >= 0)) throw new RangeError(`retention must be whole days >= 0, got ${days}`);
    const db = await this.#dbs.forKey(jid);
    await db.writer.enqueue(
      days === null
        ? { sql: 'DELETE FROM archive_retention WHERE jid = ?', args: [jid] }
        : {
            sql: 'INSERT INTO archive_retention (jid, days) VALUES (?, ?) ON CONFLICT (jid) DO UPDATE SET days = excluded.days',
            args: [jid, days],
          },
    );
  }

  async retentionOverrides(): Promise<{ jid: string; days: number }[]> {
    const out: { jid: string; days: number }[] = [];
    for (const db of await this.#dbs.existing()) {
      const rs = await db.client.execute('SELECT jid, days FROM archive_retention ORDER BY jid');
      for (const row of rs.rows) out.push({ jid: textCol(row, 'jid'), days: intCol(row, 'days') });
    }
    return out;
  }
}

function jidList(json: string): string[] {
  const v: unknown = JSON.parse(json);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new TypeError('mam_prefs: expected a JSON array of strings');
  return v;
}
