// Block lists of users homed on this shard, loaded from the BlockStore on first use and kept in memory
// (least recently used first out), so the per-stanza check is a synchronous Set lookup once warm.
import type { BlockStore } from '../../router/module.ts';
import { BlockList } from './block-list.ts';

export class BlockListCache {
  private readonly lists = new Map<string, BlockList>();
  private readonly loading = new Map<string, Promise<BlockList>>();
  private readonly store: BlockStore;
  private readonly maxUsers: number;

  constructor(store: BlockStore, maxUsers: number) {
    this.store = store;
    this.maxUsers = maxUsers;
  }

  /**
   * The user's list, synchronously when cached. Concurrent misses share one store read. Changes are
   * written to the store first and then applied to the returned object, so a list evicted meanwhile
   * is simply reloaded with the change already in it.
   */
  get(bare: string): BlockList | Promise<BlockList> {
    const cached = this.lists.get(bare);
    if (cached) {
      // Re-insert to mark it most recently used (Map iteration order is insertion order), but only
      // once evictions are near: the delete+set costs ~4% of a routed stanza (bench/RESULTS.md).
      if (this.lists.size > this.maxUsers / 2) {
        this.lists.delete(bare);
        this.lists.set(bare, cached);
      }
      return cached;
    }
    const pending = this.loading.get(bare);
    if (pending) return pending;
    const load = this.store.list(bare).then(
      (items) => {
        this.loading.delete(bare);
        const list = new BlockList(items);
        this.remember(bare, list);
        return list;
      },
      (err: unknown) => {
        this.loading.delete(bare);
        throw err;
      },
    );
    this.loading.set(bare, load);
    return load;
  }

  private remember(bare: string, list: BlockList): void {
    if (this.lists.size >= this.maxUsers) {
      const oldest = this.lists.keys().next();
      if (!oldest.done) this.lists.delete(oldest.value);
    }
    this.lists.set(bare, list);
  }
}
