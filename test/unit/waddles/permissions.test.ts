// The tuple checker over real libSQL: computed relations, parent relations, usersets, banned precedence,
// cycle protection and the per-Waddle cache.
import t from 'tap';
import { Registry } from 'prom-client';
import type { Tuple } from '../../../src/storage/ports-waddles.ts';
import type { WaddleRepo } from '../../../src/storage/waddle-repo.ts';
import { PermissionChecker, type TupleSource } from '../../../src/waddles/permissions.ts';
import { openWaddles } from './fixture.ts';

type T = Parameters<Parameters<typeof t.test>[0]>[0];

const tuple = (s: string): Tuple => {
  const [head, subject] = [s.slice(0, s.indexOf('@')), s.slice(s.indexOf('@') + 1)];
  const hash = head.lastIndexOf('#');
  return { object: head.slice(0, hash), relation: head.slice(hash + 1), subject };
};

/** A Waddle `w` with the given tuples, and a checker counting the store reads it makes. */
async function setup(t: T, tuples: string[], registry?: Registry) {
  const { store } = openWaddles(t, t.testdir());
  await store.createWaddle({ id: 'w', name: 'W', createdAt: 1, createdBy: 'operator', retentionDays: null }, tuples.map(tuple));
  const reads = { n: 0 };
  const source: TupleSource = {
    hasTuple(w, x) {
      reads.n++;
      return store.hasTuple(w, x);
    },
    usersetsOf(w, o, r) {
      reads.n++;
      return store.usersetsOf(w, o, r);
    },
  };
  const checker = new PermissionChecker(registry === undefined ? { source } : { source, registry });
  return { store: store as WaddleRepo, checker, reads, is: (o: string, r: string, u: string) => checker.check(o, r, u) };
}

const A = 'alice@example.org';
const B = 'bob@example.org';
const C = 'carol@example.org';
const D = 'dave@example.org';

t.test('Waddle relations: owner ⊂ admin ⊂ member', async (t) => {
  const { is } = await setup(t, [`waddle:w#owner@user:${A}`, `waddle:w#admin@user:${B}`, `waddle:w#member@user:${C}`]);
  const row = async (u: string) => [await is('waddle:w', 'owner', u), await is('waddle:w', 'admin', u), await is('waddle:w', 'member', u)];
  t.same(await row(A), [true, true, true], 'owner');
  t.same(await row(B), [false, true, true], 'admin');
  t.same(await row(C), [false, false, true], 'member');
  t.same(await row(D), [false, false, false], 'stranger');
  t.equal(await is('waddle:w', 'frobnicate', A), false, 'unknown relation');
  t.equal(await is('nonsense', 'owner', A), false, 'unknown object');
  t.equal(await is('waddle:other', 'owner', A), false, 'another Waddle');
});

t.test('channels inherit the Waddle owners and admins; members view unrestricted channels only', async (t) => {
  const { is } = await setup(t, [
    `waddle:w#owner@user:${A}`,
    `waddle:w#admin@user:${B}`,
    `waddle:w#member@user:${C}`,
    'channel:w/open#viewer@waddle:w#member', // what the service stores for an unrestricted channel
    `channel:w/secret#member@user:${D}`,
  ]);
  t.equal(await is('channel:w/open', 'owner', A), true, 'Waddle owner owns every channel');
  t.equal(await is('channel:w/open', 'admin', B), true, 'Waddle admin administers every channel');
  t.equal(await is('channel:w/open', 'owner', B), false);
  t.equal(await is('channel:w/open', 'viewer', C), true, 'Waddle member views an unrestricted channel');
  t.equal(await is('channel:w/open', 'member', C), false, 'but is not a channel member');
  t.equal(await is('channel:w/secret', 'viewer', C), false, 'restricted: a plain Waddle member does not');
  t.equal(await is('channel:w/secret', 'viewer', D), true, 'restricted: a channel member does');
  t.equal(await is('channel:w/secret', 'viewer', B), true, 'restricted: a Waddle admin does');
  t.equal(await is('channel:w/secret', 'viewer', A), true, 'restricted: a Waddle owner does');
  t.equal(await is('channel:w/open', 'viewer', D), false, 'not a Waddle member: cannot view the open channel');
});

t.test('banned wins over member at either level, but an owner cannot be banned', async (t) => {
  const { is } = await setup(t, [
    `waddle:w#member@user:${B}`,
    `waddle:w#banned@user:${B}`,
    `waddle:w#member@user:${C}`,
    `channel:w/c#banned@user:${C}`,
    `waddle:w#owner@user:${A}`,
    `waddle:w#banned@user:${A}`,
    `channel:w/c#banned@user:${A}`,
    `waddle:w#admin@user:${D}`,
    `channel:w/c#banned@user:${D}`,
    'channel:w/c#viewer@waddle:w#member',
    `channel:w/own#owner@user:${B}`,
  ]);
  t.equal(await is('waddle:w', 'member', B), false, 'Waddle-banned member is no member');
  t.equal(await is('channel:w/own', 'owner', B), false, 'a Waddle ban also ends channel ownership');
  t.equal(await is('channel:w/own', 'banned', B), true);
  t.equal(await is('waddle:w', 'banned', B), true);
  t.equal(await is('channel:w/c', 'viewer', B), false, 'nor a viewer of its channels');
  t.equal(await is('channel:w/c', 'banned', B), true, 'banned from the Waddle is banned from its channels');
  t.equal(await is('waddle:w', 'member', C), true, 'channel ban leaves Waddle membership');
  t.equal(await is('channel:w/c', 'viewer', C), false, 'but removes the view of that channel');
  t.equal(await is('waddle:w', 'banned', A), false, 'owner: the ban tuple has no effect');
  t.equal(await is('waddle:w', 'admin', A), true);
  t.equal(await is('channel:w/c', 'viewer', A), true);
  t.equal(await is('channel:w/c', 'admin', D), false, 'a Waddle admin banned from a channel is no admin there');
  t.equal(await is('waddle:w', 'admin', D), true, 'but still in the Waddle');
});

t.test('usersets as subjects, nested', async (t) => {
  const { is } = await setup(t, [
    `channel:w/a#member@user:${A}`,
    'channel:w/b#member@channel:w/a#member',
    'channel:w/c#viewer@channel:w/b#member',
    `channel:w/x#member@user:${B}`,
    'channel:w/x#member@waddle:other#member', // another Waddle's file is never consulted
  ]);
  t.equal(await is('channel:w/b', 'member', A), true, 'one level');
  t.equal(await is('channel:w/c', 'viewer', A), true, 'two levels');
  t.equal(await is('channel:w/c', 'viewer', B), false);
  t.equal(await is('channel:w/x', 'member', A), false, 'a userset of another Waddle is ignored');
});

t.test('cycles through usersets terminate and grant nothing by themselves', async (t) => {
  const { is } = await setup(t, [
    'channel:w/a#viewer@channel:w/b#viewer',
    'channel:w/b#viewer@channel:w/a#viewer',
    'channel:w/self#member@channel:w/self#member',
    `channel:w/b#viewer@user:${A}`,
  ]);
  t.equal(await is('channel:w/a', 'viewer', B), false, 'a ↔ b, no one in either');
  t.equal(await is('channel:w/a', 'viewer', A), true, 'a member of b views a through the cycle');
  t.equal(await is('channel:w/self', 'member', A), false, 'self-reference');
});

t.test('results are cached per Waddle until invalidated', async (t) => {
  const registry = new Registry();
  const { store, checker, reads, is } = await setup(t, [`waddle:w#member@user:${A}`], registry);
  t.equal(await is('waddle:w', 'member', A), true);
  const after = reads.n;
  t.ok(after > 0, 'the first check read the store');
  t.equal(await is('waddle:w', 'member', A), true);
  t.equal(reads.n, after, 'the second was answered from the cache');

  await store.writeTuples('w', { add: [tuple(`waddle:w#banned@user:${A}`)] });
  t.equal(await is('waddle:w', 'member', A), true, 'a write behind the checker’s back is not seen (the service always invalidates)');
  checker.invalidate('w');
  t.equal(await is('waddle:w', 'member', A), false, 'after invalidation the ban applies');
  t.ok(reads.n > after, 'read again');

  const metric = await registry.getSingleMetric('xmpp_waddles_permission_checks_total')?.get();
  const count = (labels: Record<string, string>) =>
    metric?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
  t.equal(count({ result: 'allowed', cache: 'miss' }), 1);
  t.equal(count({ result: 'allowed', cache: 'hit' }), 2);
  t.equal(count({ result: 'denied', cache: 'miss' }), 1);
  // A second checker on the same registry reuses the counter instead of throwing.
  t.doesNotThrow(() => new PermissionChecker({ source: store, registry }));
});
