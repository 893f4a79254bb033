// GroupDbs opens a realm's file only on the shard owning it, once, under the realm's name.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Placement } from '../../../src/shard/placement.ts';
import { GroupDbs } from '../../../src/storage/group-dbs.ts';

const D = 'localhost';

t.test('ownership, naming and listing of group files', async (t) => {
  const dir = t.testdir();
  const placement = new Placement(2);
  const key = 'w1.groups.localhost';
  const owner = placement.shardOf(key);
  const mine = new GroupDbs({ dataDir: dir, domain: D, placement, shard: owner });
  const other = new GroupDbs({ dataDir: dir, domain: D, placement, shard: 1 - owner });
  t.teardown(async () => {
    await mine.close();
    await other.close();
  });
  await t.rejects(other.forKey('general@w1.groups.localhost'), { code: 'ERR_NOT_OWNER' }, 'another shard may not open it');
  t.equal(await mine.ifExists('general@w1.groups.localhost'), undefined, 'a read of a Waddle nobody created finds nothing');
  t.notOk(existsSync(join(dir, 'waddles', 'w1.db')), '…and leaves no file behind');
  const [a, b] = await Promise.all([mine.forKey('general@w1.groups.localhost'), mine.forKey('w1')]);
  t.equal(a, b, 'a channel and its Waddle share one open file');
  t.equal(await mine.ifExists('w1'), a, 'once created, reads find it');
  t.equal(a?.path, join(dir, 'waddles', 'w1.db'));
  t.ok(existsSync(join(dir, 'waddles', 'w1.db')));
  await t.rejects(mine.forKey('alice@localhost'), { code: 'ERR_NOT_GROUP_CHAT' });
  t.same(await mine.waddleIds(), ['w1']);
  t.same(await other.waddleIds(), [], 'the other shard does not list files it does not own');

  // One worker owns everything: the same file is found by name after the worker count changed.
  const single = new GroupDbs({ dataDir: dir, domain: D, placement: new Placement(1), shard: 0 });
  t.teardown(() => single.close());
  await mine.close();
  const again = await single.forKey('random@w1.groups.localhost');
  t.equal(again.path, join(dir, 'waddles', 'w1.db'));
  const room = await single.forKey('lobby@conference.localhost');
  t.match(room.path, /rooms\/group-\d\d\.db$/);
  t.same((await single.existing()).map((db) => db.path).sort(), [room.path, again.path].sort(), 'existing lists both kinds');
});
