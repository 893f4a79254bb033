// RoomRepo over real group files: save/get round trip, affiliation lists, removal, listing by domain.
import t, { type Test } from 'tap';
import { Placement } from '../../../src/shard/placement.ts';
import { GroupDbs } from '../../../src/storage/group-dbs.ts';
import { RoomRepo } from '../../../src/storage/room-repo.ts';

const ROOM = 'tea@conference.example.org';
const CHANNEL = 'general@w1.groups.example.org';

function open(t: Test) {
  const dbs = new GroupDbs({ dataDir: t.testdir(), domain: 'example.org', placement: new Placement(1), shard: 0 });
  t.teardown(() => dbs.close());
  return new RoomRepo(dbs);
}

const row = (jid: string, subject = '') => ({
  jid,
  config: { name: 'Tea', persistent: true, maxUsers: 5 },
  subject,
  subjectBy: subject ? 'Alice' : '',
  subjectAt: subject ? 1000 : 0,
  secret: 's3cret',
  createdAt: 42,
});

t.test('save and get', async (t) => {
  const repo = open(t);
  t.equal(await repo.get(ROOM), undefined);
  await repo.save(row(ROOM));
  t.same(await repo.get(ROOM), row(ROOM));
  await repo.save(row(ROOM, 'Darjeeling'));
  t.same(await repo.get(ROOM), row(ROOM, 'Darjeeling'), 'upsert');
});

t.test('affiliations: set, replace all, none removes, cascade on remove', async (t) => {
  const repo = open(t);
  await repo.save(row(ROOM), [
    { jid: 'alice@example.org', affiliation: 'owner', nick: '', reason: '' },
    { jid: 'bob@example.org', affiliation: 'member', nick: 'Bobby', reason: '' },
  ]);
  await repo.setAffiliation(ROOM, { jid: 'eve@example.org', affiliation: 'outcast', nick: '', reason: 'spam' });
  await repo.setAffiliation(ROOM, { jid: 'bob@example.org', affiliation: 'none' });
  t.same(await repo.affiliations(ROOM), [
    { jid: 'alice@example.org', affiliation: 'owner', nick: '', reason: '' },
    { jid: 'eve@example.org', affiliation: 'outcast', nick: '', reason: 'spam' },
  ]);
  await repo.save(row(ROOM), [{ jid: 'carol@example.org', affiliation: 'admin', nick: '', reason: '' }]);
  t.same(
    (await repo.affiliations(ROOM)).map((a) => a.jid),
    ['carol@example.org'],
    'a save with a list replaces it',
  );
  await repo.remove(ROOM);
  t.equal(await repo.get(ROOM), undefined);
  t.same(await repo.affiliations(ROOM), []);
});

t.test('list by service domain, across files', async (t) => {
  const repo = open(t);
  await repo.save(row(ROOM));
  await repo.save(row('coffee@conference.example.org'));
  await repo.save(row(CHANNEL));
  t.same(await repo.list('conference.example.org'), ['coffee@conference.example.org', ROOM]);
  t.same(await repo.list('w1.groups.example.org'), [CHANNEL]);
  await t.rejects(repo.get('not-a-room@example.org'), 'not a group chat address');
});
