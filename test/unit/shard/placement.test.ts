import t from 'tap';
import { fnv1a32, GROUP_COUNT, groupOfSlot, Placement, SLOT_COUNT, slotOf } from '../../../src/shard/placement.ts';

t.test('fnv1a32 matches the reference vectors', async (t) => {
  // Published FNV-1a 32-bit test vectors.
  t.equal(fnv1a32(''), 0x811c9dc5);
  t.equal(fnv1a32('a'), 0xe40c292c);
  t.equal(fnv1a32('foobar'), 0xbf9cf968);
});

t.test('slots and groups', async (t) => {
  const slot = slotOf('alice@localhost');
  t.ok(slot >= 0 && slot < SLOT_COUNT, 'slot in range');
  t.equal(slotOf('alice@localhost'), slot, 'pure: same key, same slot');
  t.equal(GROUP_COUNT, 64);
  t.equal(groupOfSlot(0), 0);
  t.equal(groupOfSlot(SLOT_COUNT - 1), GROUP_COUNT - 1);
});

t.test('a group always belongs to exactly one shard, for any shard count', async (t) => {
  for (const shards of [1, 2, 3, 4, 7, 16, 64]) {
    const p = new Placement(shards);
    const owners = new Map<number, number>();
    for (let s = 0; s < shards; s++) for (const g of p.groupsOf(s)) owners.set(g, (owners.get(g) ?? 0) + 1);
    t.equal(owners.size, GROUP_COUNT, `${shards} shards: every group owned`);
    t.ok(
      [...owners.values()].every((n) => n === 1),
      `${shards} shards: no group owned twice`,
    );
    for (let slot = 0; slot < SLOT_COUNT; slot += 37) t.equal(p.shardOfSlot(slot), p.shardOfGroup(groupOfSlot(slot)));
  }
});

t.test('changing the worker count moves ownership, never the file (group) of a key', async (t) => {
  const keys = Array.from({ length: 500 }, (_, i) => `user${i}@localhost`);
  const one = new Placement(1);
  const four = new Placement(4);
  for (const k of keys) t.equal(one.groupOf(k), four.groupOf(k));
  t.ok(
    keys.every((k) => one.shardOf(k) === 0),
    'one shard owns everything',
  );
  const spread = new Set(keys.map((k) => four.shardOf(k)));
  t.equal(spread.size, 4, 'four shards all get users');
});

t.test('the shard count is validated', async (t) => {
  t.throws(() => new Placement(0), RangeError);
  t.throws(() => new Placement(1.5), RangeError);
});
