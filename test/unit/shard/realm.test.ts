// Group chat placement is a pure function of the address: a Waddle's channels share one key and file,
// ad-hoc rooms use their own bare JID, and the file never depends on the worker count.
import t from 'tap';
import { Placement } from '../../../src/shard/placement.ts';
import { isWaddleId, realmDbPath, realmOf, realmOfKey, waddleOfDomain } from '../../../src/shard/realm.ts';

const D = 'waddle.social';

t.test('Waddle channels and the Waddle service share one realm', async (t) => {
  const a = realmOf('general', 'w1.groups.waddle.social', D);
  const b = realmOf('random', 'w1.groups.waddle.social', D);
  const svc = realmOf('', 'w1.groups.waddle.social', D);
  t.same(a, { kind: 'waddle', waddle: 'w1', key: 'w1.groups.waddle.social' });
  t.same(b, a, 'another channel of the same Waddle');
  t.same(svc, a, 'the Waddle address itself');
  t.same(realmOfKey('w1', D), a, 'a Waddle id as a storage key');
  t.same(realmOfKey('general@w1.groups.waddle.social', D), a, 'a channel bare JID as a storage key');
  const placement = new Placement(4);
  t.equal(realmDbPath('/d', a as NonNullable<typeof a>, placement), '/d/waddles/w1.db');
});

t.test('ad-hoc rooms live in the conference realm, by slot group', async (t) => {
  const r = realmOf('lobby', 'conference.waddle.social', D);
  t.same(r, { kind: 'conference', key: 'lobby@conference.waddle.social' });
  t.equal(realmOf('', 'conference.waddle.social', D), undefined, 'the service domain has no state of its own');
  const path2 = realmDbPath('/d', r as NonNullable<typeof r>, new Placement(2));
  const path7 = realmDbPath('/d', r as NonNullable<typeof r>, new Placement(7));
  t.match(path2, /^\/d\/rooms\/group-\d\d\.db$/);
  t.equal(path2, path7, 'the file is named by slot group, not by worker: changing workers strands nothing');
});

t.test('non group chat addresses and invalid Waddle ids', async (t) => {
  t.equal(realmOf('alice', D, D), undefined);
  t.equal(realmOf('x', 'other.example', D), undefined);
  t.equal(waddleOfDomain('Bad_Id.groups.waddle.social', D), undefined);
  t.equal(waddleOfDomain('a.b.groups.waddle.social', D), undefined, 'one label only');
  t.ok(isWaddleId('did-plc-abc123'));
  t.notOk(isWaddleId('-x'));
  t.notOk(isWaddleId('x'.repeat(64)));
});
