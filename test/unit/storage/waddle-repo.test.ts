// WaddleRepo over real libSQL files: one file per Waddle, atomic units, tuple lookups, persistence.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { ChannelRecord, WaddleRecord } from '../../../src/storage/ports-waddles.ts';
import { openWaddles } from '../waddles/fixture.ts';

const waddle = (id: string, extra: Partial<WaddleRecord> = {}): WaddleRecord => ({
  id,
  name: `Waddle ${id}`,
  createdAt: 5,
  createdBy: 'alice@example.org',
  retentionDays: null,
  ...extra,
});
const channel = (w: string, name: string, extra: Partial<ChannelRecord> = {}): ChannelRecord => ({
  waddle: w,
  name,
  title: '',
  restricted: false,
  createdAt: 6,
  createdBy: 'alice@example.org',
  ...extra,
});
const owner = (w: string, user: string) => ({ object: `waddle:${w}`, relation: 'owner', subject: `user:${user}` });

t.test('a Waddle lives in its own file, created with its first tuples', async (t) => {
  const { store, dir } = openWaddles(t, t.testdir());
  t.equal(await store.createWaddle(waddle('penguins'), [owner('penguins', 'alice@example.org')]), true);
  t.ok(existsSync(join(dir, 'waddles', 'penguins.db')), 'file named after the id');
  t.same(await store.getWaddle('penguins'), waddle('penguins'));
  t.equal(await store.createWaddle(waddle('penguins', { name: 'other' }), [owner('penguins', 'eve@example.org')]), false, 'id taken');
  t.same(await store.tuplesOf('penguins', 'waddle:penguins'), [owner('penguins', 'alice@example.org')], 'the refused unit wrote nothing');
  t.equal(await store.getWaddle('nobody'), undefined);
  await store.createWaddle(waddle('auks'), []);
  t.same(
    (await store.listWaddles()).map((w) => w.id),
    ['auks', 'penguins'],
    'listed across files, sorted; the file getWaddle(nobody) opened has no row, so it is no Waddle',
  );
});

t.test('updateWaddle patches only what it is given', async (t) => {
  const { store } = openWaddles(t, t.testdir());
  await store.createWaddle(waddle('w'), []);
  t.equal(await store.updateWaddle('w', { retentionDays: 30 }), true);
  t.same(await store.getWaddle('w'), waddle('w', { retentionDays: 30 }));
  t.equal(await store.updateWaddle('w', { name: 'Renamed' }), true);
  t.same(await store.getWaddle('w'), waddle('w', { name: 'Renamed', retentionDays: 30 }));
  t.equal(await store.updateWaddle('w', { retentionDays: null }), true, 'null is a value: back to the default');
  t.equal((await store.getWaddle('w'))?.retentionDays, null);
  t.equal(await store.updateWaddle('x', { name: 'n' }), false, 'no such Waddle');
});

t.test('channels: create, list, update with tuples in one unit, delete with their tuples', async (t) => {
  const { store } = openWaddles(t, t.testdir());
  await store.createWaddle(waddle('w'), []);
  const viewer = { object: 'channel:w/general', relation: 'viewer', subject: 'waddle:w#member' };
  t.equal(await store.createChannel(channel('w', 'general'), [viewer]), true);
  t.equal(await store.createChannel(channel('w', 'general', { title: 'again' }), []), false, 'name taken');
  t.equal(await store.createChannel(channel('w', 'ops', { restricted: true, title: 'Ops' }), []), true);
  await t.rejects(store.createChannel(channel('ghost', 'c'), []), /FOREIGN KEY/, 'a channel needs its Waddle');
  t.same(
    (await store.listChannels('w')).map((c) => [c.name, c.title, c.restricted]),
    [
      ['general', '', false],
      ['ops', 'Ops', true],
    ],
  );
  t.same(await store.usersetsOf('w', 'channel:w/general', 'viewer'), ['waddle:w#member']);

  t.equal(await store.updateChannel('w', 'general', { restricted: true, title: 'General' }, { remove: [viewer] }), true);
  t.same(await store.getChannel('w', 'general'), channel('w', 'general', { restricted: true, title: 'General' }));
  t.same(await store.usersetsOf('w', 'channel:w/general', 'viewer'), [], 'tuple removed with the update');
  t.equal(await store.updateChannel('w', 'nope', { title: 'x' }, { add: [{ ...viewer, object: 'channel:w/nope' }] }), false);
  t.same(await store.tuplesOf('w', 'channel:w/nope'), [], 'no tuples for a channel that does not exist');

  // A userset naming the channel elsewhere goes with it.
  const nested = { object: 'channel:w/ops', relation: 'member', subject: 'channel:w/general#member' };
  await store.writeTuples('w', { add: [nested, { object: 'channel:w/general', relation: 'member', subject: 'user:bob@example.org' }] });
  t.equal(await store.deleteChannel('w', 'general'), true);
  t.equal(await store.deleteChannel('w', 'general'), false);
  t.same(await store.tuplesOf('w', 'channel:w/general'), []);
  t.same(await store.tuplesOf('w', 'channel:w/ops'), [], 'userset subject removed');
});

t.test('tuple lookups in both directions; writes are idempotent', async (t) => {
  const { store } = openWaddles(t, t.testdir());
  await store.createWaddle(waddle('w'), []);
  const a = { object: 'waddle:w', relation: 'member', subject: 'user:a#b@example.org' }; // '#' is legal in a localpart
  const b = { object: 'channel:w/c', relation: 'member', subject: 'user:a#b@example.org' };
  const set = { object: 'channel:w/c', relation: 'viewer', subject: 'waddle:w#member' };
  await store.writeTuples('w', { add: [a, b, set, a] });
  await store.writeTuples('w', { add: [a] });
  t.equal(await store.hasTuple('w', a), true);
  t.equal(await store.hasTuple('w', { ...a, relation: 'admin' }), false);
  t.same(await store.tuplesFor('w', 'user:a#b@example.org'), [b, a], 'reverse index, a user subject with # intact');
  t.same(await store.tuplesFor('w', 'waddle:w#member'), [set]);
  t.same(await store.usersetsOf('w', 'waddle:w', 'member'), [], 'users are not usersets');
  await store.writeTuples('w', { remove: [a, { ...a, subject: 'user:nobody@example.org' }] });
  t.equal(await store.hasTuple('w', a), false);
  await t.rejects(store.writeTuples('w', { add: [{ object: 'waddle:w', relation: 'member', subject: 'garbage' }] }), TypeError);
});

t.test('deleting a Waddle removes channels and tuples; the file stays and the id can be reused', async (t) => {
  const { store, dir } = openWaddles(t, t.testdir());
  await store.createWaddle(waddle('w'), [owner('w', 'alice@example.org')]);
  await store.createChannel(channel('w', 'c'), [{ object: 'channel:w/c', relation: 'viewer', subject: 'waddle:w#member' }]);
  t.equal(await store.deleteWaddle('w'), true);
  t.equal(await store.deleteWaddle('w'), false);
  t.equal(await store.getWaddle('w'), undefined);
  t.same(await store.listChannels('w'), []);
  t.same(await store.tuplesFor('w', 'user:alice@example.org'), []);
  t.same(await store.tuplesOf('w', 'channel:w/c'), []);
  t.ok(existsSync(join(dir, 'waddles', 'w.db')));
  t.equal(await store.createWaddle(waddle('w'), []), true);
});

t.test('everything survives closing and reopening the files', async (t) => {
  const dir = t.testdir();
  const first = openWaddles(t, dir);
  await first.store.createWaddle(waddle('w', { retentionDays: 7 }), [owner('w', 'alice@example.org')]);
  await first.store.createChannel(channel('w', 'c', { title: 'C' }), []);
  await first.dbs.close();
  const again = openWaddles(t, dir);
  t.same(await again.store.getWaddle('w'), waddle('w', { retentionDays: 7 }));
  t.same(await again.store.getChannel('w', 'c'), channel('w', 'c', { title: 'C' }));
  t.equal(await again.store.hasTuple('w', owner('w', 'alice@example.org')), true);
});
