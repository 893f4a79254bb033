// In-memory UserStores for unit tests and single-process experiments. Same contract as the libSQL repos
// (test/unit/storage/user-stores.contract.test.ts runs against both). Values are copied in and out so a
// caller mutating a returned object cannot change stored state, as with a database.
import { checkFastTokenTtl, newFastTokenSecret } from '../fast-token-secret.ts';
import type {
  Account,
  AccountStore,
  BlockStore,
  FastToken,
  FastTokenStore,
  OfflineMessage,
  OfflineStore,
  RosterItem,
  RosterStore,
  UserStores,
} from '../ports.ts';
import { MemoryArchiveStore, MemoryMamPrefsStore } from './memory-archive.ts';

/** Shared by the four stores of one instance: account delete must purge the others atomically. */
class MemoryUserState {
  readonly accounts = new Map<string, Account>();
  readonly rosters = new Map<string, { version: number; items: Map<string, RosterItem> }>();
  readonly offline = new Map<string, OfflineMessage[]>();
  readonly blocks = new Map<string, Set<string>>();
  /** jid -> user agent id -> the two XEP-0484 §5.1 slots */
  readonly fast = new Map<string, Map<string, FastSlots>>();
  nextOfflineId = 1;
  closed = false;
  /** Removes the user's archive and archive preferences (set by createMemoryUserStores). */
  purge: (jid: string) => Promise<void> = async () => {};

  check(): void {
    if (this.closed) throw new Error('ERR_STORE_CLOSED: user stores are closed');
  }
}

export function createMemoryUserStores(): UserStores {
  const s = new MemoryUserState();
  const archive = new MemoryArchiveStore(() => s.check());
  const mamPrefs = new MemoryMamPrefsStore(() => s.check());
  s.purge = async (jid) => {
    await archive.removeOwner(jid);
    await mamPrefs.remove(jid);
  };
  return {
    accounts: new MemoryAccountStore(s),
    roster: new MemoryRosterStore(s),
    offline: new MemoryOfflineStore(s),
    blocks: new MemoryBlockStore(s),
    fast: new MemoryFastTokenStore(s),
    archive,
    mamPrefs,
    flush: async () => {},
    close: async () => {
      s.closed = true;
    },
  };
}

function copyAccount(a: Account): Account {
  return {
    jid: a.jid,
    createdAt: a.createdAt,
    credentials: { 'SHA-1': { ...a.credentials['SHA-1'] }, 'SHA-256': { ...a.credentials['SHA-256'] } },
  };
}

function copyItem(i: RosterItem): RosterItem {
  return { ...i, groups: [...i.groups] };
}

class MemoryAccountStore implements AccountStore {
  readonly #s: MemoryUserState;
  constructor(s: MemoryUserState) {
    this.#s = s;
  }

  async get(jid: string): Promise<Account | undefined> {
    this.#s.check();
    const a = this.#s.accounts.get(jid);
    return a === undefined ? undefined : copyAccount(a);
  }

  async create(account: Account): Promise<boolean> {
    this.#s.check();
    if (this.#s.accounts.has(account.jid)) return false;
    this.#s.accounts.set(account.jid, copyAccount(account));
    return true;
  }

  async setCredentials(jid: string, creds: Account['credentials']): Promise<boolean> {
    this.#s.check();
    const a = this.#s.accounts.get(jid);
    if (a === undefined) return false;
    this.#s.accounts.set(jid, copyAccount({ ...a, credentials: creds }));
    return true;
  }

  async delete(jid: string): Promise<boolean> {
    const s = this.#s;
    s.check();
    const roster = s.rosters.get(jid);
    if (roster !== undefined) {
      // Mirror the libSQL triggers: one bump per removed item; the counter itself is kept (XEP-0237 §2).
      roster.version += roster.items.size;
      roster.items.clear();
    }
    s.offline.delete(jid);
    s.blocks.delete(jid);
    s.fast.delete(jid);
    await s.purge(jid);
    return s.accounts.delete(jid);
  }

  async list(): Promise<string[]> {
    this.#s.check();
    return [...this.#s.accounts.keys()].sort();
  }
}

class MemoryRosterStore implements RosterStore {
  readonly #s: MemoryUserState;
  constructor(s: MemoryUserState) {
    this.#s = s;
  }

  #roster(jid: string): { version: number; items: Map<string, RosterItem> } {
    let r = this.#s.rosters.get(jid);
    if (r === undefined) {
      r = { version: 0, items: new Map() };
      this.#s.rosters.set(jid, r);
    }
    return r;
  }

  async list(jid: string): Promise<{ version: number; items: RosterItem[] }> {
    this.#s.check();
    const r = this.#s.rosters.get(jid);
    if (r === undefined) return { version: 0, items: [] };
    const items = [...r.items.values()].sort((a, b) => (a.contact < b.contact ? -1 : a.contact > b.contact ? 1 : 0));
    return { version: r.version, items: items.map(copyItem) };
  }

  async get(jid: string, contact: string): Promise<RosterItem | undefined> {
    this.#s.check();
    const i = this.#s.rosters.get(jid)?.items.get(contact);
    return i === undefined ? undefined : copyItem(i);
  }

  async put(jid: string, item: RosterItem): Promise<number> {
    this.#s.check();
    const r = this.#roster(jid);
    r.items.set(item.contact, copyItem(item));
    return ++r.version;
  }

  async remove(jid: string, contact: string): Promise<number> {
    this.#s.check();
    const r = this.#s.rosters.get(jid);
    if (r === undefined) return 0;
    if (r.items.delete(contact)) r.version++;
    return r.version;
  }

  async version(jid: string): Promise<number> {
    this.#s.check();
    return this.#s.rosters.get(jid)?.version ?? 0;
  }
}

class MemoryOfflineStore implements OfflineStore {
  readonly #s: MemoryUserState;
  constructor(s: MemoryUserState) {
    this.#s = s;
  }

  async push(jid: string, xml: string, stamp: number, maxPerUser: number): Promise<boolean> {
    this.#s.check();
    const list = this.#s.offline.get(jid) ?? [];
    if (list.length >= maxPerUser) return false;
    list.push({ id: this.#s.nextOfflineId++, xml, stamp });
    this.#s.offline.set(jid, list);
    return true;
  }

  async list(jid: string): Promise<OfflineMessage[]> {
    this.#s.check();
    return (this.#s.offline.get(jid) ?? []).map((m) => ({ ...m }));
  }

  async remove(jid: string, ids: number[]): Promise<void> {
    this.#s.check();
    const list = this.#s.offline.get(jid);
    if (list === undefined) return;
    const drop = new Set(ids);
    const kept = list.filter((m) => !drop.has(m.id));
    if (kept.length === 0) this.#s.offline.delete(jid);
    else this.#s.offline.set(jid, kept);
  }

  async count(jid: string): Promise<number> {
    this.#s.check();
    return this.#s.offline.get(jid)?.length ?? 0;
  }
}

class MemoryBlockStore implements BlockStore {
  readonly #s: MemoryUserState;
  constructor(s: MemoryUserState) {
    this.#s = s;
  }

  async list(jid: string): Promise<string[]> {
    this.#s.check();
    return [...(this.#s.blocks.get(jid) ?? [])].sort();
  }

  async add(jid: string, items: string[]): Promise<void> {
    this.#s.check();
    if (items.length === 0) return;
    const set = this.#s.blocks.get(jid) ?? new Set<string>();
    for (const i of items) set.add(i);
    this.#s.blocks.set(jid, set);
  }

  async remove(jid: string, items: string[]): Promise<void> {
    this.#s.check();
    const set = this.#s.blocks.get(jid);
    if (set === undefined) return;
    for (const i of items) set.delete(i);
    if (set.size === 0) this.#s.blocks.delete(jid);
  }

  async clear(jid: string): Promise<void> {
    this.#s.check();
    this.#s.blocks.delete(jid);
  }
}

interface FastSlots {
  new?: FastToken;
  current?: FastToken;
}

/** Same rules as FastTokenRepo (see FastTokenStore in ports.ts). */
class MemoryFastTokenStore implements FastTokenStore {
  readonly #s: MemoryUserState;
  constructor(s: MemoryUserState) {
    this.#s = s;
  }

  async issue(jid: string, userAgentId: string, mechanism: string, ttlMs: number, now = Date.now()): Promise<FastToken> {
    this.#s.check();
    checkFastTokenTtl(ttlMs);
    const token: FastToken = { jid, userAgentId, mechanism, token: newFastTokenSecret(), createdAt: now, expiresAt: now + ttlMs };
    const clients = this.#s.fast.get(jid) ?? new Map<string, FastSlots>();
    for (const [ua, slots] of clients) {
      if (slots.new !== undefined && slots.new.expiresAt <= now) delete slots.new;
      if (slots.current !== undefined && slots.current.expiresAt <= now) delete slots.current;
      if (slots.new === undefined && slots.current === undefined) clients.delete(ua);
    }
    const slots = clients.get(userAgentId) ?? {};
    slots.new = token;
    clients.set(userAgentId, slots);
    this.#s.fast.set(jid, clients);
    return { ...token };
  }

  async used(jid: string, userAgentId: string, token: string): Promise<void> {
    this.#s.check();
    const slots = this.#s.fast.get(jid)?.get(userAgentId);
    if (slots === undefined) return;
    const used = slots.new?.token === token ? slots.new : slots.current?.token === token ? slots.current : undefined;
    if (used === undefined) return;
    if (slots.new !== undefined && slots.new.expiresAt < used.expiresAt) delete slots.new;
    if (slots.current !== undefined && slots.current.expiresAt < used.expiresAt) delete slots.current;
    if (slots.new === used) {
      slots.current = used;
      delete slots.new;
    }
  }

  async valid(jid: string, userAgentId?: string, now = Date.now()): Promise<FastToken[]> {
    this.#s.check();
    const out: { token: FastToken; isNew: boolean }[] = [];
    for (const [ua, slots] of this.#s.fast.get(jid) ?? []) {
      if (userAgentId !== undefined && ua !== userAgentId) continue;
      if (slots.new !== undefined && slots.new.expiresAt > now) out.push({ token: slots.new, isNew: true });
      if (slots.current !== undefined && slots.current.expiresAt > now) out.push({ token: slots.current, isNew: false });
    }
    // Newest first, a 'new' token before a 'current' one of the same millisecond, then by client (as the SQL).
    out.sort(
      (a, b) =>
        b.token.createdAt - a.token.createdAt ||
        Number(b.isNew) - Number(a.isNew) ||
        (a.token.userAgentId < b.token.userAgentId ? -1 : a.token.userAgentId > b.token.userAgentId ? 1 : 0),
    );
    return out.map((e) => ({ ...e.token }));
  }

  async revoke(jid: string, userAgentId?: string): Promise<void> {
    this.#s.check();
    if (userAgentId === undefined) this.#s.fast.delete(jid);
    else this.#s.fast.get(jid)?.delete(userAgentId);
  }
}
