// Per-Waddle (per-file) in-memory cache of permission data. The WaddleService is the only writer of a
// Waddle's file while the server runs, and it drops the Waddle's entry after every write; a check that was
// in flight keeps its own (now detached) entry, so it can never repopulate the new one with stale data.
//
// Hand-written rather than lru-cache: the bound here is coarse (whole maps are dropped when too big), it
// needs an explicit per-key invalidation hook, and it is ~40 lines.
import type { ChannelRecord, WaddleRecord } from '../storage/ports-waddles.ts';

/** Entries per map of one Waddle before the map is emptied (bounds memory for huge member lists). */
const MAX_ENTRIES = 20_000;
/** Waddles cached at once; the least recently used entry is dropped first. */
const MAX_WADDLES = 1_000;

export interface WaddleMeta {
  waddle: WaddleRecord | undefined;
  channels: ReadonlyMap<string, ChannelRecord>;
}

export class WaddleCacheEntry {
  /** Top-level check results, key `<object>#<relation>@<user>`. */
  readonly results = new Map<string, boolean>();
  /** Stored tuples, key `<object>#<relation>@<subject>`. */
  readonly direct = new Map<string, boolean>();
  /** Userset subjects of `<object>#<relation>`. */
  readonly usersets = new Map<string, readonly string[]>();
  /** The Waddle row and its channels, loaded once per entry. */
  meta: Promise<WaddleMeta> | undefined;

  remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= MAX_ENTRIES) map.clear();
    map.set(key, value);
  }
}

export class WaddleCaches {
  readonly #entries = new Map<string, WaddleCacheEntry>();

  entry(waddle: string): WaddleCacheEntry {
    let e = this.#entries.get(waddle);
    if (e !== undefined) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.#entries.delete(waddle);
    } else {
      e = new WaddleCacheEntry();
      if (this.#entries.size >= MAX_WADDLES) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
    }
    this.#entries.set(waddle, e);
    return e;
  }

  invalidate(waddle: string): void {
    this.#entries.delete(waddle);
  }

  get size(): number {
    return this.#entries.size;
  }
}
