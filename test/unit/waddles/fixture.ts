// Real libSQL Waddle stores in a test directory (not a test file itself).
import type { Test } from 'tap';
import { Placement } from '../../../src/shard/placement.ts';
import { GroupDbs } from '../../../src/storage/group-dbs.ts';
import { WaddleRepo } from '../../../src/storage/waddle-repo.ts';
import { WaddleService, type WaddleServiceOptions } from '../../../src/waddles/service.ts';

export const DOMAIN = 'example.org';

export interface Opened {
  dir: string;
  dbs: GroupDbs;
  store: WaddleRepo;
  service: WaddleService;
}

/** Opens (or reopens) the group files under `dir`, closed at teardown. */
export function openWaddles(t: Test, dir: string, opts: Partial<WaddleServiceOptions> = {}): Opened {
  const dbs = new GroupDbs({ dataDir: dir, domain: DOMAIN, placement: new Placement(1), shard: 'all' });
  t.teardown(() => dbs.close());
  const store = new WaddleRepo(dbs);
  return { dir, dbs, store, service: new WaddleService({ store, domain: DOMAIN, now: () => 1_000, ...opts }) };
}
