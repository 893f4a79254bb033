// One behavioural contract for every UserStores implementation (STYLE §2.2: one storage contract, one test
// suite for every backend): the libSQL repos on real files and the in-memory fakes.
import t from 'tap';
import { Placement } from '../../../src/shard/placement.ts';
import { createMemoryUserStores } from '../../../src/storage/memory/memory-user-stores.ts';
import type { Account, RosterItem, UserStores } from '../../../src/storage/ports.ts';
import { openUserStores } from '../../../src/storage/user-stores.ts';

type T = Parameters<Parameters<typeof t.test>[0]>[0];

const implementations: Array<[string, (t: T) => UserStores]> = [
  ['memory', () => createMemoryUserStores()],
  ['libsql', (tt) => openUserStores({ dataDir: tt.testdir(), placement: new Placement(1), shard: 0 })],
];

function account(jid: string, salt = 'c2FsdA=='): Account {
  const cred = { salt, iterations: 4096, storedKey: 'c3RvcmVk', serverKey: 'c2VydmVy' };
  return { jid, createdAt: 1_700_000_000_123, credentials: { 'SHA-1': { ...cred }, 'SHA-256': { ...cred, iterations: 5000 } } };
}

function item(contact: string, over: Partial<RosterItem> = {}): RosterItem {
  return { contact, name: null, subscription: 'none', askOut: false, pendingIn: false, approved: false, groups: [], ...over };
}

for (const [impl, open] of implementations) {
  t.test(impl, async (t) => {
    const fresh = (tt: T): UserStores => {
      const s = open(tt);
      tt.teardown(() => s.close());
      return s;
    };

    t.test('accounts: create, create twice, get, setCredentials, list', async (t) => {
      const { accounts } = fresh(t);
      t.equal(await accounts.get('romeo@example.org'), undefined);
      t.equal(await accounts.create(account('romeo@example.org')), true);
      t.equal(await accounts.create(account('romeo@example.org', 'b3RoZXI=')), false, 'second create refused');
      const got = await accounts.get('romeo@example.org');
      t.same(got, account('romeo@example.org'), 'first create kept');
      if (got) got.credentials['SHA-1'].salt = 'mutated';
      t.equal((await accounts.get('romeo@example.org'))?.credentials['SHA-1'].salt, 'c2FsdA==', 'returned copy');

      const creds = account('x', 'bmV3').credentials;
      t.equal(await accounts.setCredentials('romeo@example.org', creds), true);
      t.same((await accounts.get('romeo@example.org'))?.credentials, creds);
      t.equal(await accounts.setCredentials('nobody@example.org', creds), false);

      const jids = ['zed@example.org', 'alice@example.org', 'juliet@example.net', 'bob@example.org'];
      for (const j of jids) t.equal(await accounts.create(account(j)), true);
      t.same(await accounts.list(), [...jids, 'romeo@example.org'].sort(), 'sorted across groups');
    });

    t.test('roster: versions monotonic, upsert, get, remove', async (t) => {
      const { roster } = fresh(t);
      const me = 'juliet@example.org';
      t.same(await roster.list(me), { version: 0, items: [] });
      t.equal(await roster.version(me), 0);

      const v1 = await roster.put(me, item('romeo@example.net', { name: 'Romeo', groups: ['Friends', 'Montague'] }));
      const v2 = await roster.put(me, item('benvolio@example.net'));
      t.ok(v1 > 0 && v2 > v1, `versions increase (${v1} < ${v2})`);
      const v3 = await roster.put(me, item('romeo@example.net', { subscription: 'both', askOut: true, pendingIn: true, approved: true }));
      t.ok(v3 > v2, 'upsert bumps the version');
      t.equal(await roster.version(me), v3);

      const list = await roster.list(me);
      t.equal(list.version, v3);
      t.same(
        list.items.map((i) => i.contact),
        ['benvolio@example.net', 'romeo@example.net'],
        'one item per contact, sorted',
      );
      t.same(
        await roster.get(me, 'romeo@example.net'),
        item('romeo@example.net', {
          subscription: 'both',
          askOut: true,
          pendingIn: true,
          approved: true,
        }),
        'upsert replaced every field',
      );
      t.equal(await roster.get(me, 'nobody@example.net'), undefined);

      const v4 = await roster.remove(me, 'benvolio@example.net');
      t.ok(v4 > v3, 'remove bumps the version');
      t.equal(await roster.remove(me, 'benvolio@example.net'), v4, 'removing nothing keeps the version');
      t.equal(await roster.remove('nobody@example.org', 'x@example.org'), 0);
      t.same(
        (await roster.list(me)).items.map((i) => i.contact),
        ['romeo@example.net'],
      );
      t.equal(await roster.version('other@example.org'), 0, 'versions are per user');
    });

    t.test('roster: puts issued together get distinct increasing versions', async (t) => {
      const { roster } = fresh(t);
      const versions = await Promise.all(Array.from({ length: 20 }, (_, i) => roster.put('a@example.org', item(`c${i}@example.org`))));
      for (let i = 1; i < versions.length; i++) t.ok((versions[i] ?? 0) > (versions[i - 1] ?? 0), `put ${i} after put ${i - 1}`);
      t.equal(await roster.version('a@example.org'), versions[19]);
      t.equal((await roster.list('a@example.org')).items.length, 20);
    });

    t.test('offline: limit, order, remove', async (t) => {
      const { offline } = fresh(t);
      const me = 'romeo@example.org';
      t.equal(await offline.push(me, '<message id="1"/>', 1000, 3), true);
      t.equal(await offline.push(me, '<message id="2"/>', 2000, 3), true);
      t.equal(await offline.push(me, '<message id="3"/>', 3000, 3), true);
      t.equal(await offline.push(me, '<message id="4"/>', 4000, 3), false, 'refused at the limit');
      t.equal(await offline.count(me), 3);
      const list = await offline.list(me);
      t.same(
        list.map((m) => [m.xml, m.stamp]),
        [
          ['<message id="1"/>', 1000],
          ['<message id="2"/>', 2000],
          ['<message id="3"/>', 3000],
        ],
        'oldest first',
      );

      await offline.remove(
        'mallory@example.org',
        list.map((m) => m.id),
      );
      t.equal(await offline.count(me), 3, "another user's remove does not touch them");
      await offline.remove(me, [list[0]?.id ?? -1, 999_999]);
      t.same(
        (await offline.list(me)).map((m) => m.xml),
        ['<message id="2"/>', '<message id="3"/>'],
      );
      await offline.remove(me, []);
      t.equal(await offline.push(me, '<message id="5"/>', 5000, 3), true, 'room again after delivery');
      const ids = (await offline.list(me)).map((m) => m.id);
      t.same(
        ids,
        [...ids].sort((a, b) => a - b),
        'ids increase',
      );
      t.equal(await offline.count('nobody@example.org'), 0);
      t.equal(await offline.push('zero@example.org', '<message/>', 1, 0), false, 'limit 0 stores nothing');
    });

    t.test('offline: pushes issued together respect the limit', async (t) => {
      const { offline } = fresh(t);
      const ok = await Promise.all(Array.from({ length: 8 }, (_, i) => offline.push('a@example.org', `<m n="${i}"/>`, i, 5)));
      t.same(ok, [true, true, true, true, true, false, false, false]);
      t.equal(await offline.count('a@example.org'), 5);
    });

    t.test('blocks: add, remove, clear', async (t) => {
      const { blocks } = fresh(t);
      const me = 'juliet@example.org';
      t.same(await blocks.list(me), []);
      await blocks.add(me, ['tybalt@example.org', 'example.com', 'tybalt@example.org']);
      await blocks.add(me, ['example.com', 'paris@example.org/phone']);
      t.same(await blocks.list(me), ['example.com', 'paris@example.org/phone', 'tybalt@example.org'], 'deduplicated, sorted');
      await blocks.remove(me, ['example.com', 'never@example.org']);
      t.same(await blocks.list(me), ['paris@example.org/phone', 'tybalt@example.org']);
      await blocks.add('other@example.org', ['x@example.org']);
      await blocks.clear(me);
      t.same(await blocks.list(me), []);
      t.same(await blocks.list('other@example.org'), ['x@example.org'], 'clear is per user');
      await blocks.add(me, []);
      await blocks.remove(me, []);
      t.same(await blocks.list(me), []);
    });

    t.test('fast tokens: issue, the two slots of XEP-0484 §5.1, rotation (§3.5), revoke', async (t) => {
      const { fast } = fresh(t);
      const me = 'juliet@example.org';
      const T = 1_700_000_000_000;
      const DAY = 86_400_000;
      const secrets = async (ua?: string, now = T + 10) => (await fast.valid(me, ua, now)).map((x) => x.token);
      t.same(await fast.valid(me), []);

      const t1 = await fast.issue(me, 'ua-1', 'HT-SHA-256-NONE', DAY, T);
      t.match(t1, { jid: me, userAgentId: 'ua-1', mechanism: 'HT-SHA-256-NONE', createdAt: T, expiresAt: T + DAY });
      t.match(t1.token, /^secret-token:fast-[A-Za-z0-9_-]{43}$/, '256 random bits, RFC 8959 prefix');
      t.same(await fast.valid(me, undefined, T), [t1], 'returned as issued');
      t.same(await fast.valid(me, undefined, T + DAY), [], 'invalid from expiresAt on');

      const t2 = await fast.issue(me, 'ua-1', 'HT-SHA-256-EXPR', DAY, T + 1);
      t.not(t2.token, t1.token);
      t.same(await secrets(), [t2.token], 'an unused token is replaced by the next one (§3.5 SHOULD)');
      await fast.used(me, 'ua-1', t1.token);
      t.same(await secrets(), [t2.token], 'using a replaced token changes nothing');

      await fast.used(me, 'ua-1', t2.token);
      const t3 = await fast.issue(me, 'ua-1', 'HT-SHA-256-NONE', DAY, T + 2);
      t.same(await secrets(), [t3.token, t2.token], 'a used token stays valid beside the new one (§3.5 MUST NOT invalidate), newest first');
      await fast.used(me, 'ua-1', t2.token);
      t.same(await secrets(), [t3.token, t2.token], "using the 'current' token keeps the newer one");
      await fast.used(me, 'ua-1', t3.token);
      t.same(await secrets(), [t3.token], 'using the new token invalidates the older one');
      const t4 = await fast.issue(me, 'ua-1', 'HT-SHA-256-NONE', DAY, T + 3);
      t.same(await secrets(), [t4.token, t3.token], 'the promoted token is the one kept at the next rotation');

      const u1 = await fast.issue(me, 'ua-2', 'HT-SHA-256-ENDP', DAY, T + 4);
      t.same(await secrets(), [u1.token, t4.token, t3.token], 'all clients, newest first');
      t.same(await secrets('ua-1'), [t4.token, t3.token]);
      t.same(await secrets('ua-3'), []);
      await fast.used(me, 'ua-2', t4.token);
      await fast.used(me, 'ua-1', 'secret-token:fast-unknown');
      t.same(await secrets(), [u1.token, t4.token, t3.token], 'unknown tokens and wrong clients are ignored');
      const other = await fast.issue('romeo@example.org', 'ua-1', 'HT-SHA-256-NONE', DAY, T);

      await fast.revoke(me, 'ua-1');
      t.same(await secrets(), [u1.token], "§3.6 'invalidate' for one client");
      await fast.revoke(me);
      t.same(await secrets(), [], 'all of the user');
      t.same(
        (await fast.valid('romeo@example.org', undefined, T)).map((x) => x.token),
        [other.token],
        'other users untouched',
      );
      await t.rejects(fast.issue(me, 'ua-1', 'HT-SHA-256-NONE', 0), RangeError);
      await t.rejects(fast.issue(me, 'ua-1', 'HT-SHA-256-NONE', Number.NaN), RangeError);
    });

    t.test('fast tokens: expired ones are purged when the user gets a new one', async (t) => {
      const { fast } = fresh(t);
      const me = 'juliet@example.org';
      const old = await fast.issue(me, 'ua-old', 'HT-SHA-256-NONE', 1000, 1000);
      t.same(
        (await fast.valid(me, undefined, 0)).map((x) => x.token),
        [old.token],
        'still stored after expiry',
      );
      const next = await fast.issue(me, 'ua-new', 'HT-SHA-256-NONE', 1000, 5000);
      t.same(
        (await fast.valid(me, undefined, 0)).map((x) => x.token),
        [next.token],
        'gone after the next issue',
      );
      const got = await fast.valid(me, undefined, 5000);
      if (got[0]) got[0].token = 'mutated';
      t.equal((await fast.valid(me, undefined, 5000))[0]?.token, next.token, 'returned copy');
    });

    t.test('delete cascades to roster, offline messages, block list, FAST tokens and the archive', async (t) => {
      const s = fresh(t);
      for (const j of ['romeo@example.org', 'juliet@example.org']) {
        t.equal(await s.accounts.create(account(j)), true);
        await s.roster.put(j, item('nurse@example.org'));
        await s.offline.push(j, '<message/>', 1, 10);
        await s.blocks.add(j, ['tybalt@example.org']);
        await s.fast.issue(j, 'ua-1', 'HT-SHA-256-NONE', 60_000);
        await s.archive.append(j, { id: `${j}-1`, ts: 1, with: 'nurse@example.org', xml: '<message/>' });
        await s.mamPrefs.set(j, { default: 'never', always: [], never: [] });
      }
      const before = await s.roster.version('romeo@example.org');
      t.equal(await s.accounts.delete('romeo@example.org'), true);
      t.equal(await s.accounts.get('romeo@example.org'), undefined);
      t.same((await s.roster.list('romeo@example.org')).items, []);
      t.ok((await s.roster.version('romeo@example.org')) >= before, 'roster version never goes back (XEP-0237)');
      t.equal(await s.offline.count('romeo@example.org'), 0);
      t.same(await s.blocks.list('romeo@example.org'), []);
      t.same(await s.fast.valid('romeo@example.org'), [], 'no token outlives its account');
      t.equal((await s.archive.query('romeo@example.org', { max: 10 })).count, 0, 'the message archive goes with the account');
      t.equal(await s.mamPrefs.get('romeo@example.org'), undefined, 'archive preferences too');
      t.equal((await s.archive.query('juliet@example.org', { max: 10 })).count, 1, "others' archives untouched");
      t.same(await s.accounts.list(), ['juliet@example.org']);
      t.equal((await s.roster.list('juliet@example.org')).items.length, 1, 'other users untouched');
      t.equal(await s.offline.count('juliet@example.org'), 1);
      t.same(await s.blocks.list('juliet@example.org'), ['tybalt@example.org']);
      t.equal((await s.fast.valid('juliet@example.org')).length, 1);
      t.equal(await s.accounts.delete('romeo@example.org'), false, 'second delete finds nothing');
      t.equal(await s.accounts.create(account('romeo@example.org')), true, 'can be re-created');
    });

    t.test('archive: paging forward, backward, last page, count and first index (XEP-0313 §4.3, XEP-0059)', async (t) => {
      const { archive } = fresh(t);
      const me = 'juliet@example.org';
      for (let i = 0; i < 7; i++) {
        const peer = i % 2 === 0 ? 'romeo@example.net/orchard' : 'nurse@example.org';
        await archive.append(me, { id: `id${i}`, ts: 1000 + i, with: peer, xml: `<message><body>${i}</body></message>` });
      }
      await archive.append('romeo@example.net', { id: 'id0', ts: 5, with: me, xml: '<message/>' });
      const ids = (p: { items: { id: string }[] }) => p.items.map((i) => i.id);

      const first = await archive.query(me, { max: 3 });
      t.same(ids(first), ['id0', 'id1', 'id2']);
      t.same([first.count, first.firstIndex, first.complete], [7, 0, false]);
      const next = await archive.query(me, { max: 3, after: 'id2' });
      t.same(ids(next), ['id3', 'id4', 'id5']);
      t.equal(next.firstIndex, 3);
      const end = await archive.query(me, { max: 3, after: 'id5' });
      t.same([ids(end), end.complete], [['id6'], true], 'complete on the page reaching the end');

      const last = await archive.query(me, { max: 3, before: '' });
      t.same(ids(last), ['id4', 'id5', 'id6'], 'before="" is the last page, oldest first');
      t.same([last.firstIndex, last.complete], [4, false]);
      const prev = await archive.query(me, { max: 3, before: 'id4' });
      t.same(ids(prev), ['id1', 'id2', 'id3']);
      const head = await archive.query(me, { max: 3, before: 'id1' });
      t.same([ids(head), head.complete, head.firstIndex], [['id0'], true, 0]);

      const all = await archive.query(me, { max: 100 });
      t.same([all.items.length, all.complete], [7, true]);
      t.same(
        all.items[0],
        { id: 'id0', ts: 1000, with: 'romeo@example.net/orchard', xml: '<message><body>0</body></message>' },
        'round trip',
      );
      const countOnly = await archive.query(me, { max: 0 });
      t.same([countOnly.items, countOnly.count, countOnly.complete], [[], 7, false], 'max 0: count only');
      t.equal((await archive.query('nobody@example.org', { max: 5 })).count, 0);
    });

    t.test('archive: with (bare or full), start/end, ids, after-id/before-id, unknown ids', async (t) => {
      const { archive } = fresh(t);
      const me = 'juliet@example.org';
      const peers = ['romeo@example.net/orchard', 'romeo@example.net/balcony', 'nurse@example.org', 'romeo@example.net'];
      for (let i = 0; i < peers.length; i++)
        await archive.append(me, { id: `m${i}`, ts: 100 * (i + 1), with: peers[i] as string, xml: '<message/>' });
      const ids = async (q: Parameters<typeof archive.query>[1]) => (await archive.query(me, q)).items.map((i) => i.id);
      t.same(await ids({ max: 10, with: 'romeo@example.net' }), ['m0', 'm1', 'm3'], 'bare matches every resource');
      t.same(await ids({ max: 10, with: 'romeo@example.net/balcony' }), ['m1'], 'full matches that resource only');
      t.same(await ids({ max: 10, start: 200, end: 300 }), ['m1', 'm2'], 'start and end inclusive');
      t.same(await ids({ max: 10, ids: ['m3', 'm0'] }), ['m0', 'm3'], 'ids, in archive order');
      t.same(await ids({ max: 10, afterId: 'm0', beforeId: 'm3' }), ['m1', 'm2']);
      t.same(await ids({ max: 1, afterId: 'm0', before: '' }), ['m3'], '#extended bounds combine with RSM paging');
      const q = await archive.query(me, { max: 1, afterId: 'm0', after: 'm1' });
      t.same([q.items.map((i) => i.id), q.count, q.firstIndex], [['m2'], 3, 1], 'count ignores paging, not after-id');
      for (const bad of [{ after: 'nope' }, { before: 'nope' }, { afterId: 'nope' }, { beforeId: 'nope' }, { ids: ['m0', 'nope'] }]) {
        await t.rejects(archive.query(me, { max: 10, ...bad }), { code: 'ERR_ITEM_NOT_FOUND' }, JSON.stringify(bad));
      }
      await t.rejects(archive.query('other@example.org', { max: 10, after: 'm0' }), { code: 'ERR_ITEM_NOT_FOUND' }, 'ids are per owner');
    });

    t.test('archive: get, replace, bounds, expire (oldest first, bounded), removeOwner', async (t) => {
      const { archive } = fresh(t);
      const me = 'juliet@example.org';
      t.same(await archive.bounds(me), {});
      for (let i = 0; i < 5; i++)
        await archive.append(me, { id: `e${i}`, ts: 10 * i, with: 'romeo@example.net', xml: `<message id='${i}'/>` });
      await archive.append('romeo@example.net', { id: 'r0', ts: 1, with: me, xml: '<message/>' });
      await t.rejects(
        archive.append(me, { id: 'e0', ts: 99, with: 'x@example.org', xml: '<message/>' }),
        { message: /UNIQUE|ERR_DUPLICATE_ID/ },
        'ids are unique per owner',
      );
      t.same(await archive.get(me, 'e1'), { id: 'e1', ts: 10, with: 'romeo@example.net', xml: "<message id='1'/>" });
      t.equal(await archive.get(me, 'zz'), undefined);
      t.equal(await archive.replace(me, 'e1', '<message><retracted/></message>'), true);
      t.equal((await archive.get(me, 'e1'))?.xml, '<message><retracted/></message>', 'tombstone keeps id and ts');
      t.equal(await archive.replace(me, 'zz', '<x/>'), false);
      t.same(await archive.bounds(me), { first: { id: 'e0', ts: 0 }, last: { id: 'e4', ts: 40 } });

      // Old (ts < 25): e0, e1, e2 of juliet and r0 of romeo. Owners may live in different files, each expired oldest first.
      t.equal(await archive.expire(25, 2), 2, 'at most limit rows');
      const left = (await archive.query(me, { max: 10 })).items.map((i) => i.id);
      t.same(left, ['e0', 'e1', 'e2', 'e3', 'e4'].slice(5 - left.length), 'what is left is the newest part: no holes');
      t.equal(await archive.expire(25, 10, me), left.length - 2, 'one owner: the rest of its old entries');
      t.same(
        (await archive.query(me, { max: 10 })).items.map((i) => i.id),
        ['e3', 'e4'],
      );
      await archive.expire(25, 10);
      t.equal((await archive.query('romeo@example.net', { max: 10 })).count, 0, 'across owners');
      t.equal(await archive.expire(25, 10), 0, 'nothing old is left');
      await archive.append('romeo@example.net', { id: 'r1', ts: 1, with: me, xml: '<message/>' });
      await archive.removeOwner(me);
      t.equal((await archive.query(me, { max: 10 })).count, 0);
      t.equal((await archive.query('romeo@example.net', { max: 10 })).count, 1, 'other owners untouched');
    });

    t.test('per-user archive retention and expiry sparing the users who have their own', async (t) => {
      const { mamPrefs, archive } = fresh(t);
      t.equal(await mamPrefs.retention('juliet@example.org'), undefined, 'none: the server default applies');
      await mamPrefs.setRetention('juliet@example.org', 7);
      await mamPrefs.setRetention('romeo@example.net', 0);
      t.equal(await mamPrefs.retention('juliet@example.org'), 7);
      t.same(await mamPrefs.retentionOverrides(), [
        { jid: 'juliet@example.org', days: 7 },
        { jid: 'romeo@example.net', days: 0 },
      ]);
      await mamPrefs.setRetention('juliet@example.org', null);
      t.equal(await mamPrefs.retention('juliet@example.org'), undefined, 'back to the default');
      await t.rejects(mamPrefs.setRetention('juliet@example.org', -1), RangeError);
      for (const owner of ['juliet@example.org', 'romeo@example.net'])
        await archive.append(owner, { id: `${owner}-old`, ts: 1, with: 'x@example.org', xml: '<message/>' });
      t.equal(await archive.expire(100, 10, undefined, new Set(['romeo@example.net'])), 1, 'romeo is spared');
      t.equal((await archive.query('romeo@example.net', { max: 10 })).count, 1);
      t.equal((await archive.query('juliet@example.org', { max: 10 })).count, 0);
    });

    t.test('mam prefs: unset, set, overwrite, copies', async (t) => {
      const { mamPrefs } = fresh(t);
      t.equal(await mamPrefs.get('juliet@example.org'), undefined);
      const p = { default: 'roster' as const, always: ['romeo@example.net'], never: ['tybalt@example.org'] };
      await mamPrefs.set('juliet@example.org', p);
      const got = await mamPrefs.get('juliet@example.org');
      t.same(got, p);
      got?.always.push('x@example.org');
      t.same(await mamPrefs.get('juliet@example.org'), p, 'returned copy');
      await mamPrefs.set('juliet@example.org', { default: 'never', always: [], never: [] });
      t.same(await mamPrefs.get('juliet@example.org'), { default: 'never', always: [], never: [] });
      t.equal(await mamPrefs.get('romeo@example.org'), undefined);
    });

    t.test('closed stores refuse work', async (t) => {
      const s = open(t);
      await s.roster.put('a@example.org', item('b@example.org'));
      await s.flush();
      await s.close();
      await t.rejects(s.roster.list('a@example.org'), { message: /^ERR_STORE_CLOSED/ });
      await t.rejects(s.accounts.create(account('a@example.org')), { message: /^ERR_STORE_CLOSED/ });
    });
  });
}
