// Wires the libSQL user repos to the storage-group files one shard owns (src/shard/placement.ts).
// A file is opened only by the shard owning its group (asserted: ERR_NOT_OWNER), lazily on first use, then
// kept open until close(). The offline CLI passes shard 'all' and may open every group.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GROUP_COUNT, type Placement } from '../shard/placement.ts';
import { AccountRepo } from './account-repo.ts';
import { ArchiveRepo } from './archive-repo.ts';
import { BlockRepo } from './block-repo.ts';
import { FastTokenRepo } from './fast-token-repo.ts';
import { MamPrefsRepo } from './mam-prefs-repo.ts';
import { OfflineRepo } from './offline-repo.ts';
import type { UserStores } from './ports.ts';
import { RosterRepo } from './roster-repo.ts';
import { type DbResolver, settled, UserDb, type UserDbOptions, type UserDbResolver, userDbPath } from './user-db.ts';
import type { WriteBatcherOptions } from './write-batcher.ts';

export interface OpenUserStoresOptions {
  dataDir: string;
  placement: Placement;
  /** The shard this process/thread runs as, or 'all' for offline admin (CLI) owning every group. */
  shard: number | 'all';
  batcher?: WriteBatcherOptions;
}

export function openUserStores(opts: OpenUserStoresOptions): UserStores {
  const groups = new UserDbGroups(opts);
  const archive = new ArchiveRepo(groups);
  return {
    accounts: new AccountRepo(groups, (jid) => archive.removeOwner(jid)),
    roster: new RosterRepo(groups),
    offline: new OfflineRepo(groups),
    blocks: new BlockRepo(groups),
    fast: new FastTokenRepo(groups),
    archive,
    mamPrefs: new MamPrefsRepo(groups),
    flush: () => groups.flush(),
    close: () => groups.close(),
  };
}

const GROUP_FILE = /^group-(\d{2})\.db$/;

/** The open group files of one shard: opened on first use, one open per file even under concurrent first uses. */
export class UserDbGroups implements UserDbResolver, DbResolver {
  readonly #dataDir: string;
  readonly #placement: Placement;
  readonly #shard: number | 'all';
  readonly #dbOptions: UserDbOptions;
  readonly #open = new Map<number, Promise<UserDb>>();
  #closed = false;

  constructor(opts: OpenUserStoresOptions) {
    this.#dataDir = opts.dataDir;
    this.#placement = opts.placement;
    this.#shard = opts.shard;
    this.#dbOptions = opts.batcher === undefined ? {} : { batcher: opts.batcher };
  }

  owns(group: number): boolean {
    return this.#shard === 'all' || this.#placement.shardOfGroup(group) === this.#shard;
  }

  forKey(key: string): Promise<UserDb> {
    return this.forUser(key);
  }

  /** Users' files are 64 at most, so opening (and creating) one for a read is harmless. */
  ifExists(key: string): Promise<UserDb | undefined> {
    return this.forUser(key);
  }

  forUser(jid: string): Promise<UserDb> {
    return this.forGroup(this.#placement.groupOf(jid));
  }

  forGroup(group: number): Promise<UserDb> {
    const open = this.#open.get(group);
    if (open !== undefined) return open;
    if (this.#closed) return Promise.reject(new Error('ERR_STORE_CLOSED: user stores are closed'));
    if (!Number.isInteger(group) || group < 0 || group >= GROUP_COUNT) {
      return Promise.reject(new RangeError(`no storage group ${group}`));
    }
    if (!this.owns(group)) {
      // Two shards writing one file would serialise on its lock and break per-shard ordering; routing bugs
      // must surface here rather than as SQLITE_BUSY under load.
      const owner = this.#placement.shardOfGroup(group);
      const err = new Error(`ERR_NOT_OWNER: storage group ${group} belongs to shard ${owner}, not shard ${this.#shard}`);
      return Promise.reject(Object.assign(err, { code: 'ERR_NOT_OWNER' }));
    }
    const opening = UserDb.open(userDbPath(this.#dataDir, group), this.#dbOptions);
    this.#open.set(group, opening);
    // A failed open is forgotten so the next use retries (e.g. after the disk was remounted).
    opening.catch(() => {
      if (this.#open.get(group) === opening) this.#open.delete(group);
    });
    return opening;
  }

  async existing(): Promise<UserDb[]> {
    const onDisk = new Set<number>(this.#open.keys());
    let names: string[] = [];
    try {
      names = await readdir(join(this.#dataDir, 'users'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of names) {
      const m = GROUP_FILE.exec(name);
      if (m?.[1] !== undefined) onDisk.add(Number(m[1]));
    }
    const groups = [...onDisk].filter((g) => g < GROUP_COUNT && this.owns(g)).sort((a, b) => a - b);
    return Promise.all(groups.map((g) => this.forGroup(g)));
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
