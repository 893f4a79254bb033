// WaddleService over real libSQL: Waddles, channels, XEP-0045 affiliation rules, change events, persistence.
import t from 'tap';
import { OPERATOR } from '../../../src/waddles/model.ts';
import type { WaddleChange, WaddleService } from '../../../src/waddles/service.ts';
import { openWaddles } from './fixture.ts';

type T = Parameters<Parameters<typeof t.test>[0]>[0];

const OWNER = 'olga@example.org';
const ADMIN = 'adam@example.org';
const MEMBER = 'mia@example.org';
const OTHER = 'otto@example.org';

/** Waddle `w` owned by OWNER, with ADMIN, MEMBER and channels `general` (open) and `staff` (restricted). */
async function community(t: T): Promise<{ svc: WaddleService; dir: string; changes: WaddleChange[] }> {
  const { service: svc, dir } = openWaddles(t, t.testdir());
  await svc.createWaddle({ id: 'w', name: 'The W', owner: OWNER });
  await svc.setWaddleAffiliation('w', ADMIN, 'admin', OWNER);
  await svc.setWaddleAffiliation('w', MEMBER, 'member', ADMIN);
  await svc.createChannel('w', { name: 'general', title: 'General' }, ADMIN);
  await svc.createChannel('w', { name: 'staff', restricted: true }, OWNER);
  const changes: WaddleChange[] = [];
  svc.onChange((c) => changes.push(c));
  return { svc, dir, changes };
}

const code = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
};

t.test('creating Waddles', async (t) => {
  const { service: svc } = openWaddles(t, t.testdir());
  const w = await svc.createWaddle({ id: 'penguins', name: '  Penguins  ', owner: 'Alice@Example.org' });
  t.same(w, { id: 'penguins', name: 'Penguins', createdAt: 1_000, createdBy: 'alice@example.org', retentionDays: null });
  t.same(await svc.getWaddle('penguins'), w);
  t.equal(await svc.affiliationOf('penguins', undefined, 'alice@example.org'), 'owner', 'the owner JID is normalised');
  t.equal(await code(svc.createWaddle({ id: 'penguins', name: 'again', owner: OWNER })), 'conflict', 'an existing id is refused');
  const generated = await svc.createWaddle({ name: 'Emperor Penguins!', owner: OWNER }, OPERATOR);
  t.match(generated.id, /^emperor-penguins-[a-z2-7]{6}$/, 'an id is generated from the name');
  t.equal(generated.createdBy, 'operator');
  t.match((await svc.createWaddle({ name: 'ÜÜ', owner: OWNER })).id, /^uu-[a-z2-7]{6}$/);
  t.match((await svc.createWaddle({ name: '日本', owner: OWNER })).id, /^w-[a-z2-7]{6}$/);
  t.equal(await code(svc.createWaddle({ id: 'Bad_Id', name: 'x', owner: OWNER })), 'bad-request');
  t.equal(await code(svc.createWaddle({ id: 'ok', name: '   ', owner: OWNER })), 'bad-request', 'a name is required');
  t.equal(await code(svc.createWaddle({ id: 'ok', name: 'x', owner: 'example.org' })), 'bad-request', 'owner must be a user');
  t.equal(await code(svc.createWaddle({ id: 'ok', name: 'x', owner: 'a@example.org/res' })), 'bad-request', 'a bare JID');
  const ids = (await svc.listWaddles()).map((x) => x.id);
  t.equal(ids.length, 4, 'refused creations left nothing behind');
  t.same(ids, [...ids].sort(), 'listed by id');
  t.ok(ids.includes('penguins') && ids.includes(generated.id));
});

t.test('affiliations and visibility as the MUC module sees them', async (t) => {
  const { svc } = await community(t);
  const aff = (c: string | undefined, u: string) => svc.affiliationOf('w', c, u);
  t.same(
    [await aff(undefined, OWNER), await aff(undefined, ADMIN), await aff(undefined, MEMBER), await aff(undefined, OTHER)],
    ['owner', 'admin', 'member', 'none'],
  );
  t.same(
    [await aff('general', OWNER), await aff('general', ADMIN), await aff('general', MEMBER), await aff('general', OTHER)],
    ['owner', 'admin', 'member', 'none'],
  );
  t.equal(await aff('staff', MEMBER), 'none', 'restricted channel: a Waddle member is not a member');
  t.equal(await svc.canView('w', 'staff', MEMBER), false);
  t.equal(await svc.canView('w', 'staff', ADMIN), true);
  t.equal(await svc.canView('w', 'general', MEMBER), true);
  t.equal(await aff('nochannel', OWNER), 'none', 'unknown channel');
  t.equal(await svc.canView('w', 'nochannel', OWNER), false);
  t.equal(await svc.affiliationOf('nowaddle', undefined, OWNER), 'none', 'unknown Waddle');
  t.equal(await svc.affiliationOf('NOT VALID', 'c', OWNER), 'none');
  t.equal(await aff('general', 'not a jid@@'), 'none');

  await svc.setWaddleAffiliation('w', MEMBER, 'outcast', ADMIN);
  t.equal(await aff(undefined, MEMBER), 'outcast', 'banned → outcast, seen at once (cache invalidated)');
  t.equal(await aff('general', MEMBER), 'outcast', 'in every channel');
  t.equal(await svc.canView('w', 'general', MEMBER), false);

  await svc.setChannelAffiliation('w', 'staff', OTHER, 'member', ADMIN);
  t.equal(await aff('staff', OTHER), 'member', 'a channel member of a restricted channel');
  t.equal(await svc.canView('w', 'staff', OTHER), true);
  t.equal(await aff(undefined, OTHER), 'none', 'is not thereby a Waddle member');
  await svc.setChannelAffiliation('w', 'general', OTHER, 'outcast', OWNER);
  t.equal(await aff('general', OTHER), 'outcast', 'channel-level ban');
});

t.test('XEP-0045 §9-§10: who may change whose affiliation', async (t) => {
  const { svc } = await community(t);
  const set = (user: string, a: Parameters<WaddleService['setWaddleAffiliation']>[2], actor: string) =>
    code(svc.setWaddleAffiliation('w', user, a, actor));
  t.equal(await set(OTHER, 'member', MEMBER), 'forbidden', 'a member may not grant membership');
  t.equal(await set(OTHER, 'admin', ADMIN), 'forbidden', 'an admin may not grant admin');
  t.equal(await set(OWNER, 'outcast', ADMIN), 'not-allowed', 'an admin may not ban an owner');
  t.equal(await set(ADMIN, 'none', ADMIN), 'not-allowed', 'nor touch an admin (itself included)');
  t.equal(await set(OTHER, 'outcast', ADMIN), 'ok', 'an admin may ban a stranger');
  t.equal(await set(OTHER, 'none', ADMIN), 'ok', 'and lift the ban');
  t.equal(await set(OTHER, 'owner', OWNER), 'ok', 'an owner may grant owner');
  t.equal(await set(OWNER, 'none', OTHER), 'ok', 'an owner may remove another owner');
  t.equal(await set(OTHER, 'admin', OTHER), 'conflict', 'the last owner cannot step down (§10.5)');
  t.equal(await set(OTHER, 'none', OPERATOR), 'conflict', 'not even by the operator');
  t.equal(await set(OTHER, 'owner', OTHER), 'ok', 'a no-op is fine');
  t.equal(await set(MEMBER, 'admin', OPERATOR), 'ok', 'the operator may do the rest');
  t.equal(await svc.affiliationOf('w', undefined, MEMBER), 'admin');
  t.equal(await code(svc.setWaddleAffiliation('w', MEMBER, 'king' as never, OWNER)), 'bad-request');
  t.equal(await code(svc.setWaddleAffiliation('nowaddle', MEMBER, 'member', OPERATOR)), 'item-not-found');

  // Two owners demoting each other at once: changes of one Waddle run one at a time, so one is refused.
  await svc.setWaddleAffiliation('w', OWNER, 'owner', OTHER);
  const both = await Promise.all([set(OWNER, 'member', OTHER), set(OTHER, 'member', OWNER)]);
  t.same(both.sort(), ['forbidden', 'ok'], 'the second sees it is no longer an owner');
  const owners = (await svc.listAffiliations('w')).filter((e) => e.affiliation === 'owner');
  t.equal(owners.length, 1, 'one owner left');
});

t.test('channel affiliations', async (t) => {
  const { svc } = await community(t);
  const set = (user: string, a: Parameters<WaddleService['setWaddleAffiliation']>[2], actor: string, ch = 'general') =>
    code(svc.setChannelAffiliation('w', ch, user, a, actor));
  t.equal(await set(OTHER, 'owner', ADMIN), 'forbidden', 'a Waddle admin is a channel admin, not owner');
  t.equal(await set(OTHER, 'member', ADMIN), 'ok');
  t.equal(await set(MEMBER, 'owner', OWNER), 'ok', 'channel owner');
  t.equal(await svc.affiliationOf('w', 'general', MEMBER), 'owner');
  t.equal(await svc.affiliationOf('w', 'staff', MEMBER), 'none', 'only in that channel');
  t.equal(await set(OTHER, 'admin', MEMBER), 'ok', 'a channel owner may appoint channel admins');
  t.equal(await set(ADMIN, 'outcast', MEMBER), 'not-allowed', 'but may not ban a Waddle admin');
  t.equal(await set(OWNER, 'outcast', OPERATOR), 'not-allowed', 'nobody bans a Waddle owner from a channel');
  t.equal(await set(ADMIN, 'outcast', OWNER), 'ok', 'a Waddle owner may ban a Waddle admin from one channel');
  t.equal(await svc.affiliationOf('w', 'general', ADMIN), 'outcast');
  t.equal(await svc.affiliationOf('w', 'staff', ADMIN), 'admin', 'elsewhere still admin');
  t.equal(await set(OTHER, 'member', ADMIN, 'nochannel'), 'item-not-found');

  t.same(await svc.listAffiliations('w', 'general'), [
    { user: MEMBER, affiliation: 'owner', via: 'channel' },
    { user: OWNER, affiliation: 'owner', via: 'waddle' },
    { user: OTHER, affiliation: 'admin', via: 'channel' },
    { user: ADMIN, affiliation: 'outcast', via: 'channel' },
  ]);
  t.same(await svc.listAffiliations('w'), [
    { user: OWNER, affiliation: 'owner', via: 'waddle' },
    { user: ADMIN, affiliation: 'admin', via: 'waddle' },
    { user: MEMBER, affiliation: 'member', via: 'waddle' },
  ]);
  t.same(
    (await svc.listAffiliations('w', 'staff')).map((e) => e.user),
    [OWNER, ADMIN],
    'restricted channel: Waddle members are not listed',
  );
});

t.test('channels: who may create, change and delete them', async (t) => {
  const { svc, changes } = await community(t);
  t.equal(await code(svc.createChannel('w', { name: 'x' }, MEMBER)), 'forbidden', 'members may not create channels');
  t.equal(await code(svc.createChannel('w', { name: 'general' }, OWNER)), 'conflict');
  t.equal(await code(svc.createChannel('w', { name: 'Upper' }, OWNER)), 'bad-request', 'names are lowercase localparts');
  t.equal(await code(svc.createChannel('w', { name: 'a@b' }, OWNER)), 'bad-request');
  t.equal(await code(svc.createChannel('nowaddle', { name: 'c' }, OPERATOR)), 'item-not-found');
  t.same(
    (await svc.listChannels('w')).map((c) => [c.name, c.title, c.restricted, c.createdBy]),
    [
      ['general', 'General', false, ADMIN],
      ['staff', '', true, OWNER],
    ],
  );
  t.equal(await code(svc.updateChannel('w', 'general', { restricted: true }, MEMBER)), 'forbidden');
  t.same(await svc.updateChannel('w', 'general', { restricted: true, title: 'G' }, ADMIN), {
    ...(await svc.getChannel('w', 'general')),
    restricted: true,
    title: 'G',
  });
  t.equal(await svc.canView('w', 'general', MEMBER), false, 'restricting hides it from plain members');
  await svc.updateChannel('w', 'general', { restricted: false }, OPERATOR);
  t.equal(await svc.canView('w', 'general', MEMBER), true, 'and opening shows it again');

  await svc.setChannelAffiliation('w', 'staff', MEMBER, 'owner', OWNER);
  t.equal(await code(svc.deleteChannel('w', 'general', MEMBER)), 'forbidden', 'not an owner of general');
  t.equal(await code(svc.deleteChannel('w', 'staff', MEMBER)), 'ok', 'a channel owner may delete it');
  t.equal(await svc.getChannel('w', 'staff'), undefined);
  t.equal(await svc.affiliationOf('w', 'staff', MEMBER), 'none', 'its tuples went with it');
  t.equal(await code(svc.deleteChannel('w', 'staff', OWNER)), 'item-not-found');
  t.same(
    changes.map((c) => c.kind),
    ['channel-updated', 'channel-updated', 'affiliation', 'channel-deleted'],
    'one event per committed change, none for refusals',
  );
});

t.test('Waddle settings: rename, retention, delete', async (t) => {
  const { svc, changes } = await community(t);
  t.equal(await code(svc.renameWaddle('w', 'New', ADMIN)), 'forbidden', 'owners only');
  t.equal((await svc.renameWaddle('w', 'New', OWNER)).name, 'New');
  t.equal(await code(svc.setRetention('w', -1, OPERATOR)), 'bad-request');
  t.equal(await code(svc.setRetention('w', 1.5, OPERATOR)), 'bad-request');
  t.equal((await svc.setRetention('w', 30, OWNER)).retentionDays, 30);
  t.equal((await svc.getWaddle('w'))?.retentionDays, 30);
  t.equal((await svc.setRetention('w', null, OPERATOR)).retentionDays, null);
  t.equal(await code(svc.deleteWaddle('w', ADMIN)), 'forbidden');
  await svc.deleteWaddle('w', OWNER);
  t.equal(await svc.getWaddle('w'), undefined);
  t.equal(await svc.affiliationOf('w', 'general', OWNER), 'none');
  t.equal(await code(svc.listChannels('w')), 'item-not-found');
  t.equal(await code(svc.deleteWaddle('w', OPERATOR)), 'item-not-found');
  t.same(
    changes.map((c) => [c.kind, c.waddle]),
    [
      ['waddle-updated', 'w'],
      ['waddle-updated', 'w'],
      ['waddle-updated', 'w'],
      ['waddle-deleted', 'w'],
    ],
  );
  await svc.createWaddle({ id: 'w', name: 'Reborn', owner: OTHER });
  t.same(await svc.listChannels('w'), [], 'a re-created Waddle starts empty');
  t.equal(await svc.affiliationOf('w', undefined, OWNER), 'none');
});

t.test('change events carry who and where, after the commit; a failing listener is contained', async (t) => {
  const { svc, changes } = await community(t);
  let seenInside: string | undefined;
  svc.onChange(() => {
    throw new Error('listener bug');
  });
  const off = svc.onChange((c) => {
    if (c.user === OTHER) void svc.affiliationOf('w', undefined, OTHER).then((a) => (seenInside = a));
  });
  await svc.setWaddleAffiliation('w', OTHER, 'member', ADMIN);
  await svc.setChannelAffiliation('w', 'general', OTHER, 'outcast', ADMIN);
  off();
  await svc.setWaddleAffiliation('w', OTHER, 'none', ADMIN);
  t.same(changes, [
    { kind: 'affiliation', waddle: 'w', user: OTHER },
    { kind: 'affiliation', waddle: 'w', channel: 'general', user: OTHER },
    { kind: 'affiliation', waddle: 'w', user: OTHER },
  ]);
  t.equal(seenInside, 'member', 'a listener reading back sees the committed change');
  await svc.setWaddleAffiliation('w', OTHER, 'none', ADMIN);
  t.equal(changes.length, 3, 'no event when nothing changed');
});

t.test('state survives reopening the files', async (t) => {
  const { dir } = await community(t);
  const again = openWaddles(t, dir).service;
  t.equal((await again.getWaddle('w'))?.name, 'The W');
  t.equal(await again.affiliationOf('w', 'general', MEMBER), 'member');
  t.equal(await again.affiliationOf('w', 'staff', ADMIN), 'admin');
  t.equal(await again.canView('w', 'staff', MEMBER), false);
  t.equal(again.channelJid('w', 'general'), 'general@w.groups.example.org');
  t.equal(again.waddleJid('w'), 'w.groups.example.org');
});
