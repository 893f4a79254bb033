// XEP-0313 §3.2 retention: delete archive entries older than `retentionDays`, oldest first (the only deletion the
// XEP allows without leaving holes), in small batches so a sweep never stalls the shard.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ArchiveStore, MamPrefsStore } from '../../router/module.ts';

export interface SweepOptions {
  /** 0 (or less) keeps everything. */
  retentionDays: number;
  now?: number;
  /** Rows per DELETE: ~20 µs each on libSQL (FACTS.md), so 200 blocks the thread for a few ms at most. */
  batch?: number;
  /** Batches per sweep; what is left waits for the next sweep. */
  maxBatches?: number;
  /** Only this owner's archive (a room with its own retention); every owner of the store's files otherwise. */
  owner?: string;
  /** Without `owner`: owners left alone (they have their own retention). */
  except?: ReadonlySet<string>;
}

export const DAY_MS = 86_400_000;

/** Runs one sweep over every archive `store` reaches on this shard; returns how many entries were deleted. */
export async function sweepArchive(store: ArchiveStore, o: SweepOptions): Promise<number> {
  if (!(o.retentionDays > 0)) return 0;
  const cutoff = (o.now ?? Date.now()) - o.retentionDays * DAY_MS;
  const batch = o.batch ?? 200;
  const maxBatches = o.maxBatches ?? 250;
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = o.owner === undefined ? await store.expire(cutoff, batch, undefined, o.except) : await store.expire(cutoff, batch, o.owner);
    total += n;
    if (n < batch) break;
    await nextTurn(); // let sockets and other writes through between batches
  }
  return total;
}

/**
 * The sweep of personal archives: users with their own retention (`waddle user retention`) by theirs, everyone
 * else by the server's `[archive] retention_days` (0 = forever).
 */
export async function sweepPersonalArchives(
  store: ArchiveStore,
  prefs: MamPrefsStore,
  o: { serverDays: number; now?: number },
): Promise<number> {
  const overrides = await prefs.retentionOverrides();
  let total = 0;
  for (const { jid, days } of overrides) {
    total += await sweepArchive(store, { retentionDays: days, owner: jid, ...(o.now === undefined ? {} : { now: o.now }) });
  }
  const except = new Set(overrides.map((x) => x.jid));
  total += await sweepArchive(store, { retentionDays: o.serverDays, except, ...(o.now === undefined ? {} : { now: o.now }) });
  return total;
}
