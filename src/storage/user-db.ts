// One user storage-group file: <dataDir>/users/group-NN.db (src/shard/placement.ts). Files are named by
// group, never by shard, so changing the worker count moves whole files between shards and strands nothing.
//
// Durability: WAL with synchronous=NORMAL. A commit is in the WAL (OS page cache) when it returns, so it
// survives a crash of this process; on power loss or a kernel crash the last few transactions before the
// next checkpoint may be rolled back (the file stays consistent). FULL would fsync every commit: ~2.5x the
// CPU per autocommit row here (FACTS.md, libSQL), and roster/offline writes are not worth that.
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Client, createClient, type InStatement, type ResultSet, type Row } from '@libsql/client';
import { migrate } from './migrate.ts';
import { USER_MIGRATIONS } from './migrations/users.ts';
import { WriteBatcher, type WriteBatcherOptions } from './write-batcher.ts';
import { WriteConnection } from './write-connection.ts';

export const BUSY_TIMEOUT_MS = 5000;

/** `<dataDir>/users/group-NN.db`, NN the storage group zero-padded to 2 digits. */
export function userDbPath(dataDir: string, group: number): string {
  return join(dataDir, 'users', `group-${String(group).padStart(2, '0')}.db`);
}

/** How repos find the file for a user; implemented by UserDbGroups (user-stores.ts). */
export interface UserDbResolver {
  /** The (lazily opened) file holding `jid`'s data. Rejects with ERR_NOT_OWNER if this shard does not own it. */
  forUser(jid: string): Promise<UserDb>;
  /** Every owned file that exists on disk, opened. For cross-user listing (CLI); never creates files. */
  existing(): Promise<UserDb[]>;
}

export interface UserDbOptions {
  batcher?: WriteBatcherOptions;
  /** The schema the file follows; users' files by default (group chat files: GROUP_MIGRATIONS). */
  migrations?: readonly string[];
}

/** Resolves a key (a bare JID, a room JID, a Waddle id) to the open file holding its data. */
export interface DbResolver {
  /** Rejects with ERR_NOT_OWNER if this shard does not own the key's file. Creates the file if needed (writes). */
  forKey(key: string): Promise<UserDb>;
  /**
   * For reads: the key's file if it exists, never creating one, so a stanza to an address nobody created
   * (e.g. `x@<random>.groups.<domain>`) cannot leave an empty file behind.
   */
  ifExists(key: string): Promise<UserDb | undefined>;
  /** Every owned file that exists on disk, opened (retention sweeps, CLI listings); never creates files. */
  existing(): Promise<UserDb[]>;
}

export class UserDb {
  readonly path: string;
  /** For reads. Writes go through `writer`, so they are group-committed in enqueue order. */
  readonly client: Client;
  readonly writer: WriteBatcher;
  /** The writer's own connection (write-connection.ts: prepared statements reused across batches). */
  readonly #writes: WriteConnection;

  private constructor(path: string, client: Client, writes: WriteConnection, opts: WriteBatcherOptions | undefined) {
    this.path = path;
    this.client = client;
    this.#writes = writes;
    this.writer = new WriteBatcher(writes, opts);
  }

  /** A read through the writer's connection, with its statement kept prepared: for reads on every login. */
  query(stmt: InStatement): Promise<ResultSet> {
    return this.#writes.query(stmt);
  }

  static async open(path: string, opts: UserDbOptions = {}): Promise<UserDb> {
    await mkdir(dirname(path), { recursive: true });
    // concurrency: 1 — the client otherwise pools up to 20 connections and opens a new one whenever two
    // calls overlap in the same microtask window; PRAGMAs below are per connection (synchronous,
    // foreign_keys), so a second connection would silently run with synchronous=FULL and no FK checks.
    // Verified with @libsql/client 0.18.0. The client's `timeout` sets busy_timeout on any connection it
    // (re)opens; the explicit PRAGMA below states it, before WAL, as FACTS.md requires.
    const client = createClient({ url: pathToFileURL(path).href, concurrency: 1, timeout: BUSY_TIMEOUT_MS });
    try {
      // busy_timeout BEFORE journal_mode: switching to WAL needs a lock; without a timeout a concurrent
      // opener gets SQLITE_BUSY at once (FACTS.md, libSQL).
      await client.execute(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const mode = await client.execute('PRAGMA journal_mode = WAL');
      if (mode.rows[0]?.['journal_mode'] !== 'wal') {
        throw new Error(`could not enable WAL on ${path}: journal_mode=${String(mode.rows[0]?.['journal_mode'])}`);
      }
      await client.execute('PRAGMA synchronous = NORMAL');
      await client.execute('PRAGMA foreign_keys = ON');
      await migrate(client, opts.migrations ?? USER_MIGRATIONS);
      // After the migration, so the writer never prepares against an older schema; it sets the same PRAGMAs.
      return new UserDb(path, client, new WriteConnection(path, { busyTimeoutMs: BUSY_TIMEOUT_MS }), opts.batcher);
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** Commits queued writes, then closes the file. */
  async close(): Promise<void> {
    try {
      await this.writer.close();
    } finally {
      this.#writes.close();
      this.client.close();
    }
  }
}

// Typed column readers: the client returns `Value` (null | string | number | bigint | ArrayBuffer); a wrong
// type means a corrupt or foreign file, which should fail loudly rather than leak into stanzas.

export function textCol(row: Row, col: string): string {
  const v = row[col];
  if (typeof v !== 'string') throw new TypeError(`column ${col}: expected text, got ${typeof v}`);
  return v;
}

export function textOrNullCol(row: Row, col: string): string | null {
  const v = row[col];
  if (v === null) return null;
  if (typeof v !== 'string') throw new TypeError(`column ${col}: expected text or null, got ${typeof v}`);
  return v;
}

export function intCol(row: Row, col: string): number {
  const v = row[col];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`column ${col}: expected integer, got ${typeof v}`);
  return v;
}

/** A file being opened, or undefined if opening failed (its opener already saw the error): for flush and close. */
export async function settled(p: Promise<UserDb>): Promise<UserDb | undefined> {
  try {
    return await p;
  } catch {
    return undefined;
  }
}
