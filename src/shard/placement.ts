// Placement is pure (STYLE §4.3): key -> one of SLOT_COUNT slots -> shard. Data files are named by
// storage group (a fixed range of slots), never by shard, so changing the worker count moves ownership
// of whole groups and never the identity of a file.

export const SLOT_COUNT = 1024;
/** Slots per storage group: user data lives in <data>/users/group-<g>.db, 64 files in all. */
export const SLOTS_PER_GROUP = 16;
export const GROUP_COUNT = SLOT_COUNT / SLOTS_PER_GROUP;

/** FNV-1a, 32 bit, over the UTF-16 code units of the key (keys are normalised JIDs, mostly ASCII). */
export function fnv1a32(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function slotOf(key: string): number {
  return fnv1a32(key) & (SLOT_COUNT - 1);
}

export function groupOfSlot(slot: number): number {
  return Math.floor(slot / SLOTS_PER_GROUP);
}

export class Placement {
  readonly shards: number;
  constructor(shards: number) {
    if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shard count must be >= 1, got ${shards}`);
    this.shards = shards;
  }
  /** Whole groups move together, so one file is always owned by exactly one shard. */
  shardOfGroup(group: number): number {
    return group % this.shards;
  }
  shardOfSlot(slot: number): number {
    return this.shardOfGroup(groupOfSlot(slot));
  }
  /** The owner of a bare JID's state (`user@domain`, already normalised). */
  shardOf(key: string): number {
    return this.shardOfSlot(slotOf(key));
  }
  groupOf(key: string): number {
    return groupOfSlot(slotOf(key));
  }
  groupsOf(shard: number): number[] {
    const out: number[] = [];
    for (let g = 0; g < GROUP_COUNT; g++) if (this.shardOfGroup(g) === shard) out.push(g);
    return out;
  }
}
