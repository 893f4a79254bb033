// The connection a file's WriteBatcher commits through: the `libsql` engine (the package @libsql/client's local
// client wraps) with prepared statements kept per SQL text.
//
// Why not `client.batch`: for every statement of every batch, BEGIN and COMMIT included, the client prepares the
// statement again and probes it with `raw(true)`, which throws (an Error with a stack trace) for each statement
// that returns no rows. Room archive appends arrive about one per event-loop turn per file, so nearly every batch
// is BEGIN + one INSERT + COMMIT, and preparing the INSERT (trigger and 4 indexes compiled in) is a large part:
// ArchiveRepo.append cost 125-133 µs CPU through the client against 62-66 µs here, one append per turn over 10
// rooms (bench/archive-write.bench.ts), and 48.8 vs 21.8 µs in bursts of 5,000 (archive.bench.ts; RESULTS.md,
// "Room archive writes"). The client keeps its connection pool private, so this is a second connection to the
// same file, opened after the schema migration; it is used only for writes and only from the owning thread.
//
// Two connections on one thread cannot deadlock here: every transaction on either one begins and ends inside one
// synchronous call (this batch, the client's execute/batch), so neither ever waits on a lock the other holds
// across a turn. (An interactive `client.transaction()` held across awaits would make a write wait for
// busy_timeout; the repos use none after migration.) WAL lets the client's reads run beside these writes.
import { type InArgs, type InStatement, type InValue, LibsqlBatchError, LibsqlError, type ResultSet, type Row } from '@libsql/client';
import Database from 'libsql';

/** Statements kept prepared per connection. Repos use a few dozen SQL texts; the bound guards dynamic SQL. */
const STATEMENT_CACHE_SIZE = 256;

type Stmt = Database.Statement;
type SqlValue = null | string | number | bigint | Uint8Array;

export interface WriteConnectionOptions {
  busyTimeoutMs: number;
}

export class WriteConnection {
  readonly #db: Database.Database;
  readonly #cache = new Map<string, Stmt>();
  readonly #columns = new WeakMap<Stmt, string[]>();
  readonly #begin: Stmt;
  readonly #commit: Stmt;
  readonly #rollback: Stmt;

  /**
   * Opens `path` (which must already be in WAL mode: journal_mode is stored in the file) with the per-connection
   * settings every connection to a storage file needs (user-db.ts): busy_timeout, synchronous=NORMAL, foreign_keys.
   */
  constructor(path: string, opts: WriteConnectionOptions) {
    const db = new Database(path, { timeout: opts.busyTimeoutMs });
    try {
      db.exec(`PRAGMA busy_timeout = ${Math.trunc(opts.busyTimeoutMs)}`);
      const mode = (db.prepare('PRAGMA journal_mode').raw(true).all() as unknown[][])[0]?.[0];
      if (mode !== 'wal') throw new Error(`write connection to ${path}: journal_mode=${String(mode)}, expected wal`);
      db.exec('PRAGMA synchronous = NORMAL');
      db.exec('PRAGMA foreign_keys = ON');
      // 'write' batches (as the client's batch(…, 'write')): take the write lock up front.
      this.#begin = db.prepare('BEGIN IMMEDIATE');
      this.#commit = db.prepare('COMMIT');
      this.#rollback = db.prepare('ROLLBACK');
    } catch (err) {
      db.close();
      throw err;
    }
    this.#db = db;
  }

  /**
   * Runs `stmts` in one transaction, all or nothing, like `client.batch(stmts, 'write')`: on a failing statement
   * rejects with a LibsqlBatchError naming its index (the WriteBatcher relies on it); a failure of BEGIN or COMMIT
   * rejects with a LibsqlError. A single statement runs in autocommit mode: equally atomic, two statements cheaper.
   */
  batch(stmts: readonly InStatement[], _mode?: 'write'): Promise<ResultSet[]> {
    // Checked here: the engine must never see a closed handle (it aborts the process on some misuse).
    if (!this.#db.open) return Promise.reject(new LibsqlError('The write connection is closed', 'CLIENT_CLOSED'));
    try {
      return Promise.resolve(this.#run(stmts));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * One read (a statement returning rows) through a kept prepared statement, outside any batch. For reads on
   * every login (the account's credentials): through the client each one prepared its statement and read
   * its columns again, ~15% of a SCRAM login's CPU (bench/RESULTS.md, session 3). Sees committed data only,
   * as the client does; batches run within one synchronous call, so a read never lands inside one.
   */
  query(stmt: InStatement): Promise<ResultSet> {
    if (!this.#db.open) return Promise.reject(new LibsqlError('The write connection is closed', 'CLIENT_CLOSED'));
    try {
      const sql = typeof stmt === 'string' ? stmt : stmt.sql;
      const prepared = this.#prepared(sql);
      if (!prepared.reader) throw new LibsqlError(`query() is for statements that return rows: ${sql}`, 'SQLITE_MISUSE');
      const columns = this.#columnsOf(prepared);
      const rows = (prepared.all(typeof stmt === 'string' ? [] : toSqlArgs(stmt.args)) as unknown[][]).map((r) => toRow(r, columns));
      return Promise.resolve(new WriteResult(columns, rows, 0, undefined));
    } catch (err) {
      return Promise.reject(err instanceof LibsqlError ? err : libsqlError(err));
    }
  }

  #columnsOf(prepared: Stmt): string[] {
    let columns = this.#columns.get(prepared);
    if (columns === undefined) {
      columns = prepared.columns().map((c) => c.name);
      this.#columns.set(prepared, columns);
    }
    return columns;
  }

  /** Statements currently kept prepared (besides BEGIN/COMMIT/ROLLBACK). */
  get preparedStatements(): number {
    return this.#cache.size;
  }

  close(): void {
    this.#cache.clear();
    if (this.#db.open) this.#db.close();
  }

  #run(stmts: readonly InStatement[]): ResultSet[] {
    if (stmts.length === 1) return [this.#exec(stmts[0] as InStatement, 0)];
    const db = this.#db;
    try {
      this.#begin.run();
    } catch (err) {
      throw libsqlError(err);
    }
    try {
      const out: ResultSet[] = [];
      for (let i = 0; i < stmts.length; i++) out.push(this.#exec(stmts[i] as InStatement, i));
      try {
        this.#commit.run();
      } catch (err) {
        throw libsqlError(err);
      }
      return out;
    } catch (err) {
      // A failed statement leaves the transaction open (SQLite rolls back only the statement); some errors
      // (SQLITE_FULL, I/O) have already rolled it back.
      if (db.inTransaction) {
        try {
          this.#rollback.run();
        } catch {
          // The statement's error is the one to report; a connection that cannot roll back fails its next BEGIN.
        }
      }
      throw err;
    }
  }

  #exec(stmt: InStatement, index: number): ResultSet {
    const sql = typeof stmt === 'string' ? stmt : stmt.sql;
    try {
      const prepared = this.#prepared(sql);
      const args = typeof stmt === 'string' ? [] : toSqlArgs(stmt.args);
      if (!prepared.reader) {
        const info = prepared.run(args);
        return new WriteResult([], [], info.changes, BigInt(info.lastInsertRowid));
      }
      // Rows (RETURNING): shaped as the client shapes them, integers as numbers (its default intMode).
      const columns = prepared.columns().map((c) => c.name);
      const rows = (prepared.all(args) as unknown[][]).map((r) => toRow(r, columns));
      return new WriteResult(columns, rows, 0, undefined);
    } catch (err) {
      const e = errorFields(err);
      throw new LibsqlBatchError(e.message, index, e.code, e.extendedCode, e.rawCode, e.cause);
    }
  }

  #prepared(sql: string): Stmt {
    const cache = this.#cache;
    let s = cache.get(sql);
    if (s !== undefined) return s;
    s = this.#db.prepare(sql);
    if (s.reader) s.raw(true).safeIntegers(true);
    if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(sql, s);
    return s;
  }
}

/** The ResultSet of one statement; `rows` only for statements returning rows. */
class WriteResult implements ResultSet {
  readonly columns: string[];
  readonly columnTypes: string[];
  readonly rows: Row[];
  readonly rowsAffected: number;
  readonly lastInsertRowid: bigint | undefined;

  constructor(columns: string[], rows: Row[], rowsAffected: number, lastInsertRowid: bigint | undefined) {
    this.columns = columns;
    this.columnTypes = columns.map(() => '');
    this.rows = rows;
    this.rowsAffected = rowsAffected;
    this.lastInsertRowid = lastInsertRowid;
  }

  toJSON(): unknown {
    return {
      columns: this.columns,
      columnTypes: this.columnTypes,
      rows: this.rows.map((r) => Array.from(r)),
      rowsAffected: this.rowsAffected,
      lastInsertRowid: this.lastInsertRowid?.toString() ?? null,
    };
  }
}

/** A row readable by index and by column name, as the client returns them. */
function toRow(values: unknown[], columns: string[]): Row {
  const row: Record<string | number, unknown> = {};
  Object.defineProperty(row, 'length', { value: values.length });
  for (let i = 0; i < values.length; i++) {
    const v = fromSql(values[i]);
    Object.defineProperty(row, i, { value: v });
    const name = columns[i] as string;
    if (!Object.hasOwn(row, name)) row[name] = v;
  }
  return row as unknown as Row;
}

function fromSql(v: unknown): unknown {
  if (typeof v === 'bigint') {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new RangeError('Received integer which cannot be safely represented as a JavaScript number');
    }
    return Number(v);
  }
  if (v instanceof Uint8Array) return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength);
  return v;
}

/** Bound values as the client converts them; the engine aborts the process on a boolean, so none gets through. */
function toSqlArgs(args: InArgs | undefined): SqlValue[] | Record<string, SqlValue> {
  if (args === undefined) return [];
  if (Array.isArray(args)) return args.map(toSql);
  const out: Record<string, SqlValue> = {};
  for (const [name, v] of Object.entries(args)) {
    const c = name.charCodeAt(0);
    // ':v', '@v', '$v' → 'v' (the engine wants bare names)
    out[c === 58 || c === 64 || c === 36 ? name.slice(1) : name] = toSql(v);
  }
  return out;
}

function toSql(v: InValue): SqlValue {
  switch (typeof v) {
    case 'string':
    case 'bigint':
      return v;
    case 'number':
      if (!Number.isFinite(v)) throw new RangeError('Only finite numbers (not Infinity or NaN) can be passed as arguments');
      return v;
    case 'boolean':
      return v ? 1 : 0;
    case 'undefined':
      throw new TypeError('undefined cannot be passed as argument to the database');
    default:
      if (v === null || v instanceof Uint8Array) return v;
      if (v instanceof ArrayBuffer) return new Uint8Array(v);
      if (v instanceof Date) return v.valueOf();
      throw new TypeError(`unsupported argument type: ${Object.prototype.toString.call(v)}`);
  }
}

interface ErrorFields {
  message: string;
  code: string;
  extendedCode: string | undefined;
  rawCode: number | undefined;
  cause: Error | undefined;
}

/** libsql's SqliteError (code = the extended code, e.g. SQLITE_CONSTRAINT_UNIQUE) in the client's terms. */
function errorFields(err: unknown): ErrorFields {
  if (err instanceof Database.SqliteError) {
    const extended = err.code;
    const base = /^SQLITE_[A-Z]+/.exec(extended)?.[0] ?? 'SQLITE_UNKNOWN';
    return { message: err.message, code: base, extendedCode: extended, rawCode: err.rawCode, cause: err };
  }
  // Argument conversion (TypeError, RangeError) and anything else.
  const cause = err instanceof Error ? err : undefined;
  return { message: cause?.message ?? String(err), code: 'UNKNOWN', extendedCode: undefined, rawCode: undefined, cause };
}

function libsqlError(err: unknown): LibsqlError {
  const e = errorFields(err);
  return new LibsqlError(e.message, e.code, e.extendedCode, e.rawCode, e.cause);
}
