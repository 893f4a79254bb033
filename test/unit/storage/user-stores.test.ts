// libSQL-specific behaviour of openUserStores: ownership, lazy per-group files, persistence, resharding.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Placement } from '../../../src/shard/placement.ts';
import type { RosterItem, UserStores } from '../../../src/storage/ports.ts';
import { userDbPath } from '../../../src/storage/user-db.ts';
import { openUserStores, UserDbGroups } from '../../../src/storage/user-stores.ts';

type T = Parameters<Parameters<typeof t.test>[0]>[0];

const item = (contact: string): RosterItem => ({
  contact,
  name: null,
  subscription: 'both',
  askOut: false,
  pendingIn: false,
  approved: false,
  groups: [],
});

/** The first `user<i>@example.org` whose shard under `p` is `shard`. */
function userOn(p: Placement, shard: number, skip = 0): string {
  for (let i = 0, seen = 0; ; i++) {
    const jid = `user${i}@example.org`;
    if (p.shardOf(jid) === shard && seen++ === skip) return jid;
  }
}

function open(tt: T, dataDir: string, shards: number, shard: number | 'all'): UserStores {
  const s = openUserStores({ dataDir, placement: new Placement(shards), shard });
  tt.teardown(() => s.close());
  return s;
}

t.test('files are opened lazily, one per storage group, named group-NN.db', async (t) => {
  const dir = t.testdir();
  const p = new Placement(1);
  const s = open(t, dir, 1, 0);
  t.notOk(existsSync(join(dir, 'users')), 'nothing opened before first use');
  const jid = 'romeo@example.org';
  await s.roster.put(jid, item('juliet@example.org'));
  const name = `group-${String(p.groupOf(jid)).padStart(2, '0')}.db`;
  t.same(
    readdirSync(join(dir, 'users')).filter((f) => f.endsWith('.db')),
    [name],
  );
  t.equal(userDbPath(dir, 3), join(dir, 'users', 'group-03.db'));
});

t.test('concurrent first uses share one open', async (t) => {
  const groups = new UserDbGroups({ dataDir: t.testdir(), placement: new Placement(1), shard: 0 });
  t.teardown(() => groups.close());
  const [a, b] = await Promise.all([groups.forGroup(5), groups.forGroup(5)]);
  t.equal(a, b);
  t.equal(await groups.forGroup(5), a, 'kept open');
  await t.rejects(groups.forGroup(64), RangeError);
});

t.test('a shard refuses groups it does not own (ERR_NOT_OWNER)', async (t) => {
  const dir = t.testdir();
  const p = new Placement(2);
  const s = open(t, dir, 2, 0);
  const foreign = userOn(p, 1);
  await t.rejects(s.roster.list(foreign), { message: /^ERR_NOT_OWNER/, code: 'ERR_NOT_OWNER' });
  await t.rejects(s.offline.push(foreign, '<message/>', 1, 10), { message: /^ERR_NOT_OWNER/ });
  await t.rejects(s.accounts.delete(foreign), { message: /^ERR_NOT_OWNER/ });
  t.notOk(existsSync(userDbPath(dir, p.groupOf(foreign))), 'foreign file never created');
  const mine = userOn(p, 0);
  t.equal(await s.offline.push(mine, '<message/>', 1, 10), true, 'own group works');
});

t.test('data survives close and reopen', async (t) => {
  const dir = t.testdir();
  const jid = 'juliet@example.org';
  const first = openUserStores({ dataDir: dir, placement: new Placement(1), shard: 0 });
  const cred = { salt: 'cw==', iterations: 4096, storedKey: 'aw==', serverKey: 'bA==' };
  await first.accounts.create({ jid, createdAt: 5, credentials: { 'SHA-1': cred, 'SHA-256': cred } });
  const v = await first.roster.put(jid, item('romeo@example.org'));
  await first.offline.push(jid, '<message><body>hi</body></message>', 42, 10);
  await first.blocks.add(jid, ['tybalt@example.org']);
  // not awaited: close() must commit it
  const pending = first.blocks.add(jid, ['paris@example.org']);
  await first.close();
  await pending;

  const again = open(t, dir, 1, 0);
  t.equal((await again.accounts.get(jid))?.createdAt, 5);
  t.same(await again.roster.list(jid), { version: v, items: [item('romeo@example.org')] });
  t.same(
    (await again.offline.list(jid)).map((m) => [m.xml, m.stamp]),
    [['<message><body>hi</body></message>', 42]],
  );
  t.same(await again.blocks.list(jid), ['paris@example.org', 'tybalt@example.org']);
  t.ok((await again.roster.put(jid, item('nurse@example.org'))) > v, 'version continues after reopen');
});

t.test('changing the shard count never strands data: files are named by group', async (t) => {
  const dir = t.testdir();
  const one = new Placement(1);
  const two = new Placement(2);
  const users = [userOn(two, 0), userOn(two, 0, 1), userOn(two, 1), userOn(two, 1, 1)];
  const single = openUserStores({ dataDir: dir, placement: one, shard: 0 });
  for (const u of users) await single.blocks.add(u, [`blocked-by-${u}`]);
  await single.close();
  const filesBefore = readdirSync(join(dir, 'users'))
    .filter((f) => f.endsWith('.db'))
    .sort();

  const shard0 = open(t, dir, 2, 0);
  const shard1 = open(t, dir, 2, 1);
  for (const u of users) {
    const owner = two.shardOf(u) === 0 ? shard0 : shard1;
    t.same(await owner.blocks.list(u), [`blocked-by-${u}`], `${u} found by shard ${two.shardOf(u)} of 2`);
    t.equal(userDbPath(dir, one.groupOf(u)), userDbPath(dir, two.groupOf(u)), 'same file under both placements');
  }
  t.same(
    readdirSync(join(dir, 'users'))
      .filter((f) => f.endsWith('.db'))
      .sort(),
    filesBefore,
    'no new files',
  );
});

t.test("the CLI (shard 'all') lists accounts across every group file", async (t) => {
  const dir = t.testdir();
  const two = new Placement(2);
  const cred = { salt: 'cw==', iterations: 4096, storedKey: 'aw==', serverKey: 'bA==' };
  const users = [userOn(two, 0), userOn(two, 1), userOn(two, 1, 1)];
  for (const u of users) {
    const s = open(t, dir, 2, two.shardOf(u));
    await s.accounts.create({ jid: u, createdAt: 1, credentials: { 'SHA-1': cred, 'SHA-256': cred } });
  }
  const cli = open(t, dir, 2, 'all');
  t.same(await cli.accounts.list(), [...users].sort());
  const shard1 = open(t, dir, 2, 1);
  t.same(await shard1.accounts.list(), users.filter((u) => two.shardOf(u) === 1).sort(), 'a shard lists only its groups');
  t.same(await open(t, t.testdir(), 1, 'all').accounts.list(), [], 'no files: empty, and none created');
});
