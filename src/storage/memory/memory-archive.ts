// In-memory ArchiveStore and MamPrefsStore (tests, single-process experiments). Same contract as ArchiveRepo and
// MamPrefsRepo (test/unit/storage/user-stores.contract.test.ts runs against both): a global sequence stands for
// the `seq` column, and paging, counting and expiry follow the same rules.
import { archiveItemNotFound, splitWith } from '../archive-repo.ts';
import type { ArchivedStanza, ArchivePage, ArchiveQuery, ArchiveStore, MamPrefs, MamPrefsStore } from '../ports.ts';

interface Row extends ArchivedStanza {
  seq: number;
}

export class MemoryArchiveStore implements ArchiveStore {
  /** owner → rows in archive order */
  readonly #rows = new Map<string, Row[]>();
  readonly #check: () => void;
  #seq = 0;

  /** `check` throws when the stores are closed. */
  constructor(check: () => void = () => {}) {
    this.#check = check;
  }

  async append(owner: string, entry: ArchivedStanza): Promise<void> {
    this.#check();
    const rows = this.#rows.get(owner) ?? [];
    if (rows.some((r) => r.id === entry.id)) throw new Error(`ERR_DUPLICATE_ID: ${entry.id} already archived for ${owner}`);
    rows.push({ ...entry, seq: ++this.#seq });
    this.#rows.set(owner, rows);
  }

  async query(owner: string, q: ArchiveQuery): Promise<ArchivePage> {
    this.#check();
    const rows = this.#rows.get(owner) ?? [];
    const seqOf = (id: string): number => {
      const r = rows.find((x) => x.id === id);
      if (r === undefined) throw archiveItemNotFound(id);
      return r.seq;
    };
    const [withBare, withResource] = q.with === undefined ? [undefined, ''] : splitWith(q.with);
    if (q.ids !== undefined) for (const id of q.ids) seqOf(id);
    const ids = q.ids === undefined ? undefined : new Set(q.ids);
    const afterId = q.afterId === undefined ? undefined : seqOf(q.afterId);
    const beforeId = q.beforeId === undefined ? undefined : seqOf(q.beforeId);
    const matching = rows.filter((r) => {
      if (withBare !== undefined) {
        const [bare, resource] = splitWith(r.with);
        if (bare !== withBare || (withResource !== '' && resource !== withResource)) return false;
      }
      if (q.start !== undefined && r.ts < q.start) return false;
      if (q.end !== undefined && r.ts > q.end) return false;
      if (ids !== undefined && !ids.has(r.id)) return false;
      if (afterId !== undefined && r.seq <= afterId) return false;
      if (beforeId !== undefined && r.seq >= beforeId) return false;
      return true;
    });
    const after = q.after === undefined ? undefined : seqOf(q.after);
    const before = q.before === undefined || q.before === '' ? undefined : seqOf(q.before);
    const inPage = matching.filter((r) => (after === undefined || r.seq > after) && (before === undefined || r.seq < before));
    const backwards = q.before !== undefined;
    const take = Math.max(0, q.max);
    const page = backwards ? inPage.slice(Math.max(0, inPage.length - take)) : inPage.slice(0, take);
    const complete = inPage.length <= take;
    const first = page[0];
    const firstIndex = first === undefined ? 0 : matching.indexOf(first);
    return { items: page.map(copy), complete, count: matching.length, firstIndex };
  }

  async get(owner: string, id: string): Promise<ArchivedStanza | undefined> {
    this.#check();
    const r = this.#rows.get(owner)?.find((x) => x.id === id);
    return r === undefined ? undefined : copy(r);
  }

  async replace(owner: string, id: string, xml: string): Promise<boolean> {
    this.#check();
    const r = this.#rows.get(owner)?.find((x) => x.id === id);
    if (r === undefined) return false;
    r.xml = xml;
    return true;
  }

  async bounds(owner: string): Promise<{ first?: { id: string; ts: number }; last?: { id: string; ts: number } }> {
    this.#check();
    const rows = this.#rows.get(owner) ?? [];
    const first = rows[0];
    const last = rows[rows.length - 1];
    return first === undefined || last === undefined ? {} : { first: { id: first.id, ts: first.ts }, last: { id: last.id, ts: last.ts } };
  }

  async expire(before: number, limit: number, owner?: string, except?: ReadonlySet<string>): Promise<number> {
    this.#check();
    const old: { owner: string; row: Row }[] = [];
    for (const [o, rows] of this.#rows) {
      if ((owner !== undefined && o !== owner) || (owner === undefined && except?.has(o))) continue;
      for (const row of rows) if (row.ts < before) old.push({ owner: o, row });
    }
    old.sort((a, b) => a.row.ts - b.row.ts || a.row.seq - b.row.seq);
    const doomed = new Set(old.slice(0, Math.max(0, limit)).map((x) => x.row));
    for (const [o, rows] of this.#rows) {
      const kept = rows.filter((r) => !doomed.has(r));
      if (kept.length === 0) this.#rows.delete(o);
      else this.#rows.set(o, kept);
    }
    return doomed.size;
  }

  async removeOwner(owner: string): Promise<void> {
    this.#check();
    this.#rows.delete(owner);
  }
}

export class MemoryMamPrefsStore implements MamPrefsStore {
  readonly #prefs = new Map<string, MamPrefs>();
  readonly #retention = new Map<string, number>();
  readonly #check: () => void;

  constructor(check: () => void = () => {}) {
    this.#check = check;
  }

  async get(jid: string): Promise<MamPrefs | undefined> {
    this.#check();
    const p = this.#prefs.get(jid);
    return p === undefined ? undefined : { default: p.default, always: [...p.always], never: [...p.never] };
  }

  async set(jid: string, prefs: MamPrefs): Promise<void> {
    this.#check();
    this.#prefs.set(jid, { default: prefs.default, always: [...prefs.always], never: [...prefs.never] });
  }

  async retention(jid: string): Promise<number | undefined> {
    this.#check();
    return this.#retention.get(jid);
  }

  async setRetention(jid: string, days: number | null): Promise<void> {
    this.#check();
    if (days !== null && !(Number.isInteger(days) && days >= 0)) throw new RangeError(`retention must be whole days >= 0, got ${days}`);
    if (days === null) this.#retention.delete(jid);
    else this.#retention.set(jid, days);
  }

  async retentionOverrides(): Promise<{ jid: string; days: number }[]> {
    this.#check();
    return [...this.#retention].sort(([a], [b]) => (a < b ? -1 : 1)).map(([jid, days]) => ({ jid, days }));
  }

  /** Account deletion (the libSQL repo does this in the account's purge transaction). */
  async remove(jid: string): Promise<void> {
    this.#prefs.delete(jid);
    this.#retention.delete(jid);
  }
}

function copy(r: Row): ArchivedStanza {
  return { id: r.id, ts: r.ts, with: r.with, xml: r.xml };
}
