// The group chat files one shard owns (src/shard/realm.ts): opened lazily by key, one open per file even
// under concurrent first uses, each only by the shard owning its realm (ERR_NOT_OWNER otherwise, like users).
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GROUP_COUNT, type Placement } from '../shard/placement.ts';
import { type Realm, isWaddleId, realmDbPath, realmOfKey, waddleDomain } from '../shard/realm.ts';
import { GROUP_MIGRATIONS } from './migrations/groups.ts';
import { type DbResolver, settled, UserDb } from './user-db.ts';
import type { WriteBatcherOptions } from './write-batcher.ts';

export interface GroupDbsOptions {
  dataDir: string;
  domain: string;
  placement: Placement;
  /** The shard this thread runs as, or 'all' for offline admin (CLI). */
  shard: number | 'all';
  batcher?: WriteBatcherOptions;
}

export class GroupDbs implements DbResolver {
  readonly #o: GroupDbsOptions;
  readonly #open = new Map<string, Promise<UserDb>>();
  #closed = false;

  constructor(o: GroupDbsOptions) {
    this.#o = o;
  }

  /** The realm of a room bare JID, a Waddle domain or a Waddle id; throws for anything else. */
  realmOf(key: string): Realm {
    const realm = realmOfKey(key, this.#o.domain);
    if (!realm) throw Object.assign(new Error(`ERR_NOT_GROUP_CHAT: ${key} is not a group chat address`), { code: 'ERR_NOT_GROUP_CHAT' });
    return realm;
  }

  owns(realm: Realm): boolean {
    return this.#o.shard === 'all' || this.#o.placement.shardOf(realm.key) === this.#o.shard;
  }

  forKey(key: string): Promise<UserDb> {
    let realm: Realm;
    try {
      realm = this.realmOf(key);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.forRealm(realm);
  }

  async ifExists(key: string): Promise<UserDb | undefined> {
    const realm = this.realmOf(key);
    const path = realmDbPath(this.#o.dataDir, realm, this.#o.placement);
    if (!this.#open.has(path) && !existsSync(path)) {
      if (!this.owns(realm)) return this.forRealm(realm); // the ownership error, as for writes
      return undefined;
    }
    return this.forRealm(realm);
  }

  forRealm(realm: Realm): Promise<UserDb> {
    if (!this.owns(realm)) {
      // Two shards writing one file would serialise on its lock and break per-room ordering.
      const owner = this.#o.placement.shardOf(realm.key);
      const err = new Error(`ERR_NOT_OWNER: ${realm.key} belongs to shard ${owner}, not shard ${this.#o.shard}`);
      return Promise.reject(Object.assign(err, { code: 'ERR_NOT_OWNER' }));
    }
    return this.#openPath(realmDbPath(this.#o.dataDir, realm, this.#o.placement));
  }

  /** The Waddle ids with a file on disk owned by this shard. */
  async waddleIds(): Promise<string[]> {
    const ids: string[] = [];
    for (const name of await listDir(join(this.#o.dataDir, 'waddles'))) {
      if (!name.endsWith('.db')) continue;
      const id = name.slice(0, -3);
      if (isWaddleId(id) && this.owns({ kind: 'waddle', waddle: id, key: waddleDomain(id, this.#o.domain) })) ids.push(id);
    }
    return ids.sort();
  }

  async existing(): Promise<UserDb[]> {
    const opening: Promise<UserDb>[] = [...this.#open.values()];
    for (const id of await this.waddleIds())
      opening.push(this.forRealm({ kind: 'waddle', waddle: id, key: waddleDomain(id, this.#o.domain) }));
    // Conference group files are named by slot group, not by any one room: open the owned ones on disk.
    for (const name of await listDir(join(this.#o.dataDir, 'rooms'))) {
      const m = /^group-(\d{2})\.db$/.exec(name);
      const g = Number(m?.[1] ?? GROUP_COUNT);
      if (g >= GROUP_COUNT || (this.#o.shard !== 'all' && this.#o.placement.shardOfGroup(g) !== this.#o.shard)) continue;
      opening.push(this.#openPath(join(this.#o.dataDir, 'rooms', name)));
    }
    const out = new Map<string, UserDb>();
    for (const db of await Promise.all(opening.map(settled))) if (db) out.set(db.path, db);
    return [...out.values()];
  }

  #openPath(path: string): Promise<UserDb> {
    const open = this.#open.get(path);
    if (open !== undefined) return open;
    if (this.#closed) return Promise.reject(new Error('ERR_STORE_CLOSED: group stores are closed'));
    const opts =
      this.#o.batcher === undefined ? { migrations: GROUP_MIGRATIONS } : { migrations: GROUP_MIGRATIONS, batcher: this.#o.batcher };
    const opening = UserDb.open(path, opts);
    this.#open.set(path, opening);
    // A failed open is forgotten so the next use retries.
    opening.catch(() => {
      if (this.#open.get(path) === opening) this.#open.delete(path);
    });
    return opening;
  }

  async flush(): Promise<void> {
    await Promise.all([...this.#open.values()].map(async (p) => (await settled(p))?.writer.flush()));
  }

  async close(): Promise<void> {
    this.#closed = true;
    const dbs = [...this.#open.values()];
    this.#open.clear();
    await Promise.all(dbs.map(async (p) => (await settled(p))?.close()));
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
