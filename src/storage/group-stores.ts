// Wires the libSQL group chat repos to the realm files one shard owns (src/storage/group-dbs.ts).
import type { Placement } from '../shard/placement.ts';
import { ArchiveRepo } from './archive-repo.ts';
import { GroupDbs } from './group-dbs.ts';
import type { GroupStores } from './ports.ts';
import { RoomRepo } from './room-repo.ts';
import { WaddleRepo } from './waddle-repo.ts';
import type { WriteBatcherOptions } from './write-batcher.ts';

export interface OpenGroupStoresOptions {
  dataDir: string;
  domain: string;
  placement: Placement;
  /** The shard this thread runs as, or 'all' for offline admin (CLI). */
  shard: number | 'all';
  batcher?: WriteBatcherOptions;
}

export function openGroupStores(opts: OpenGroupStoresOptions): GroupStores & { dbs: GroupDbs } {
  const dbs = new GroupDbs(opts);
  return {
    dbs,
    archive: new ArchiveRepo(dbs),
    rooms: new RoomRepo(dbs),
    waddles: new WaddleRepo(dbs),
    flush: () => dbs.flush(),
    close: () => dbs.close(),
  };
}
