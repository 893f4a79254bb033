// Group commit for one libSQL file. The local client is synchronous behind its Promises and one autocommit
// transaction per row costs ~40 µs CPU (FACTS.md, libSQL), so writes queued during one event-loop turn are
// committed together in one `batch(…, 'write')` transaction, at most `maxStatements` per batch so a
// single flush blocks the thread for a bounded time; the next batch waits for the next turn (setImmediate)
// so sockets get served in between.
//
// Semantics: a "unit" is one or more statements that commit atomically; units commit in enqueue order.
// A unit's promise resolves with its ResultSets once the transaction holding it has committed (durable in
// the WAL; see user-db.ts for what synchronous=NORMAL means on power loss). When a batch fails, the result
// is the same as if every unit had run in its own transaction in order: the failing unit is rejected with
// its error and the others are committed again without it (see #isolate).
//
// The connection: a UserDb's WriteConnection (write-connection.ts: prepared statements kept per SQL text, ~2x
// cheaper per archive append than the client) or any @libsql/client Client; both have this `batch`.
import { type InStatement, LibsqlBatchError, type ResultSet } from '@libsql/client';

/** Runs statements in one write transaction, all or nothing; names the failing statement (LibsqlBatchError). */
export interface BatchConnection {
  batch(stmts: InStatement[], mode: 'write'): Promise<ResultSet[]>;
}

export interface WriteBatcherOptions {
  /** Statements per transaction; a unit larger than this commits alone. Default DEFAULT_MAX_BATCH_STATEMENTS. */
  maxStatements?: number;
  /** Called after every transaction attempt (for metrics and tests). */
  onBatch?: (info: BatchInfo) => void;
}

export interface BatchInfo {
  units: number;
  statements: number;
  /** Wall time of the `batch` call; ~ the time the thread was blocked, since the client is synchronous. */
  ms: number;
  ok: boolean;
}

export interface WriteBatcherStats {
  batches: number;
  units: number;
  statements: number;
  failedUnits: number;
  /** Transactions re-run because a neighbour failed. */
  retries: number;
  maxBatchMs: number;
}

interface Unit {
  stmts: InStatement[];
  resolve(rs: ResultSet[]): void;
  reject(err: unknown): void;
}

/**
 * bench/libsql.bench.ts (10k offline pushes, 2-core shared VM): a batch blocks the thread ~1.7 ms at 64
 * statements, ~3.2 ms at 128, 7-10 ms at 256, 25-30 ms at 1024, for 35-37 vs 32-36 µs CPU/row between 64
 * and 256. 64 keeps a flush well under the ~2 ms p99 latency we compare against (ejabberd, FACTS.md).
 */
export const DEFAULT_MAX_BATCH_STATEMENTS = 64;

export class WriteBatcher {
  readonly #conn: BatchConnection;
  readonly #maxStatements: number;
  readonly #onBatch: ((info: BatchInfo) => void) | undefined;
  #queue: Unit[] = [];
  #timer: NodeJS.Immediate | undefined;
  #inFlight: Promise<void> | undefined;
  #closed = false;
  readonly stats: WriteBatcherStats = { batches: 0, units: 0, statements: 0, failedUnits: 0, retries: 0, maxBatchMs: 0 };

  constructor(conn: BatchConnection, opts: WriteBatcherOptions = {}) {
    const max = opts.maxStatements ?? DEFAULT_MAX_BATCH_STATEMENTS;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxStatements must be >= 1, got ${max}`);
    this.#conn = conn;
    this.#maxStatements = max;
    this.#onBatch = opts.onBatch;
  }

  /** Units (statements or atomic groups) waiting for a transaction, not counting the batch in flight. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Queues one statement; resolves with its ResultSet after commit. */
  enqueue(stmt: InStatement): Promise<ResultSet> {
    return this.enqueueUnit([stmt]).then(first);
  }

  /** Queues statements that must commit together (all or none); resolves with one ResultSet per statement. */
  enqueueUnit(stmts: InStatement[]): Promise<ResultSet[]> {
    if (this.#closed) return Promise.reject(new Error('ERR_STORE_CLOSED: write after close'));
    if (stmts.length === 0) return Promise.resolve([]);
    return new Promise<ResultSet[]>((resolve, reject) => {
      this.#queue.push({ stmts, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves when everything queued before the call has committed or failed (never rejects). */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#inFlight !== undefined) await this.#runNext();
  }

  /** Commits what is queued, then refuses new writes. Does not close the client. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    if (this.#timer !== undefined) clearImmediate(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    // setImmediate, not queueMicrotask: it runs after the poll phase, so every write issued by this turn's
    // socket callbacks lands in the same transaction.
    if (this.#timer === undefined) this.#timer = setImmediate(this.#onTimer);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    void this.#runNext();
  };

  #runNext(): Promise<void> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    const units = this.#take();
    if (units.length === 0) return Promise.resolve();
    this.#inFlight = this.#commit(units).finally(() => {
      this.#inFlight = undefined;
      if (this.#queue.length > 0) this.#schedule(); // yield a turn between batches
    });
    return this.#inFlight;
  }

  /** Takes whole units up to maxStatements (at least one unit). */
  #take(): Unit[] {
    const q = this.#queue;
    let n = 0;
    let stmts = 0;
    while (n < q.length) {
      const size = (q[n] as Unit).stmts.length;
      if (n > 0 && stmts + size > this.#maxStatements) break;
      stmts += size;
      n++;
    }
    if (n === q.length) {
      this.#queue = [];
      return q;
    }
    return q.splice(0, n);
  }

  /** Settles every unit; never rejects. */
  async #commit(units: Unit[]): Promise<void> {
    try {
      settle(units, await this.#batch(units));
    } catch (err) {
      await this.#isolate(units, err);
    }
  }

  async #batch(units: Unit[]): Promise<ResultSet[]> {
    const stmts: InStatement[] = [];
    for (const u of units) for (const s of u.stmts) stmts.push(s);
    const t0 = performance.now();
    let ok = false;
    try {
      const rs = await this.#conn.batch(stmts, 'write');
      ok = true;
      return rs;
    } finally {
      const ms = performance.now() - t0;
      const s = this.stats;
      s.batches++;
      s.units += units.length;
      s.statements += stmts.length;
      if (ms > s.maxBatchMs) s.maxBatchMs = ms;
      this.#onBatch?.({ units: units.length, statements: stmts.length, ms, ok });
    }
  }

  /**
   * The transaction rolled back. When libSQL names the failing statement (LibsqlBatchError.statementIndex),
   * everything before it had succeeded, so rejecting that unit and re-running the rest reproduces serial,
   * one-transaction-per-unit semantics at the cost of one extra transaction per bad unit. Otherwise (BEGIN
   * or COMMIT failed, I/O error, closed client) the failure cannot be attributed: each unit gets its own
   * transaction and its own outcome.
   */
  async #isolate(units: Unit[], firstError: unknown): Promise<void> {
    let pending = units;
    let err = firstError;
    while (err instanceof LibsqlBatchError && err.code !== 'TRANSACTION_CLOSED') {
      const bad = unitAt(pending, err.statementIndex);
      if (bad < 0) break;
      (pending[bad] as Unit).reject(err);
      this.stats.failedUnits++;
      pending = pending.filter((_, i) => i !== bad);
      if (pending.length === 0) return;
      this.stats.retries++;
      try {
        settle(pending, await this.#batch(pending));
        return;
      } catch (next) {
        err = next;
      }
    }
    for (const u of pending) {
      this.stats.retries++;
      try {
        u.resolve(await this.#batch([u]));
      } catch (e) {
        this.stats.failedUnits++;
        u.reject(e);
      }
    }
  }
}

function first(rs: ResultSet[]): ResultSet {
  return rs[0] as ResultSet;
}

/** Hands each unit its slice of the batch's ResultSets. */
function settle(units: Unit[], rs: ResultSet[]): void {
  let at = 0;
  for (const u of units) {
    const n = u.stmts.length;
    u.resolve(n === 1 ? [rs[at] as ResultSet] : rs.slice(at, at + n));
    at += n;
  }
}

/** Index of the unit holding the statement at `stmtIndex` of the flattened batch, or -1. */
function unitAt(units: Unit[], stmtIndex: number): number {
  let end = 0;
  for (let i = 0; i < units.length; i++) {
    end += (units[i] as Unit).stmts.length;
    if (stmtIndex < end) return i;
  }
  return -1;
}
