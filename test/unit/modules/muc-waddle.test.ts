// Waddle channels as rooms: creation by a join, permissions from the Waddle service, Waddle-level muc#admin,
// live re-evaluation of occupants when affiliations change.
import t from 'tap';
import { codes, defined, errorCondition, item, join, last, mucCluster, online, stanzaFrom, userOn } from './muc-helpers.ts';

const ADMIN = 'http://jabber.org/protocol/muc#admin';

t.test('Waddle channels: creation, membership from tuples, live ban and removal', async (t) => {
  const c = await mucCluster(t);
  let i = 0;
  while (c.placement.shardOf(`w${i}.groups.localhost`) !== 0) i++;
  const waddle = `w${i}`;
  const domain = `${waddle}.groups.localhost`;
  const general = `general@${domain}`;
  const alice = await online(c, userOn(c, 'alice', 1));
  const bob = await online(c, userOn(c, 'bob', 1));
  const carol = await online(c, userOn(c, 'carol', 0));

  // A join to a channel of a Waddle that does not exist creates both, the joiner owning them.
  const created = await join(alice, `${general}/Alice`);
  const found = created.find((el) => el.attrs.from === `${general}/Alice`);
  t.ok(found, 'joined');
  const self = defined(found, "alice's self-presence");
  t.equal(item(self)?.attrs.affiliation, 'owner');
  t.ok(codes(self).includes(201), 'created');

  // Not a Waddle member: the members-only channel is closed; no one but admins creates channels.
  t.equal(errorCondition(last(await join(bob, `${general}/Bob`))), 'registration-required');
  t.equal(errorCondition(last(await join(bob, `${'random'}@${domain}/Bob`))), 'item-not-found');

  // Waddle-level muc#admin to the Waddle's own address.
  const grant = await alice.iq(
    `<iq type='set' id='g' to='${domain}'><query xmlns='${ADMIN}'><item affiliation='member' jid='${bob.bare}'/></query></iq>`,
    'g',
  );
  t.equal(grant.attrs.type, 'result');
  const list = await alice.iq(
    `<iq type='get' id='l' to='${domain}'><query xmlns='${ADMIN}'><item affiliation='member'/></query></iq>`,
    'l',
  );
  t.same(
    list
      .getChild('query')
      ?.getChildren('item')
      .map((x) => x.attrs.jid),
    [bob.bare],
  );
  const bj = await join(bob, `${general}/Bob`);
  t.equal(item(stanzaFrom(bj, `${general}/Bob`))?.attrs.affiliation, 'member', 'Waddle members are channel members');

  // Channel-level affiliation through muc#admin on the room.
  const cg = await alice.iq(
    `<iq type='set' id='cg' to='${general}'><query xmlns='${ADMIN}'><item affiliation='admin' jid='${carol.bare}'/></query></iq>`,
    'cg',
  );
  t.equal(cg.attrs.type, 'result');
  const cj = await join(carol, `${general}/Carol`);
  t.equal(item(stanzaFrom(cj, `${general}/Carol`))?.attrs.affiliation, 'admin');
  t.equal(item(stanzaFrom(cj, `${general}/Carol`))?.attrs.role, 'moderator');

  // Live: banning bob at the Waddle level removes him from the channel with 301.
  await alice.iq(
    `<iq type='set' id='b' to='${domain}'><query xmlns='${ADMIN}'><item affiliation='outcast' jid='${bob.bare}'/></query></iq>`,
    'b',
  );
  const out = await bob.next((el) => el.name === 'presence' && el.attrs.type === 'unavailable' && el.attrs.from === `${general}/Bob`);
  t.same(codes(out), [110, 301]);
  const seen = await carol.next((el) => el.name === 'presence' && el.attrs.type === 'unavailable' && el.attrs.from === `${general}/Bob`);
  t.same(codes(seen), [301]);
  t.equal(errorCondition(last(await join(bob, `${general}/Bob`))), 'forbidden');

  // Live: carol's channel admin right removed → she stays (no longer moderator) only if she can still view.
  await alice.iq(
    `<iq type='set' id='r' to='${general}'><query xmlns='${ADMIN}'><item affiliation='none' jid='${carol.bare}'/></query></iq>`,
    'r',
  );
  const gone = await carol.next((el) => el.name === 'presence' && el.attrs.from === `${general}/Carol`);
  t.equal(gone.attrs.type, 'unavailable', 'not a member any more: removed from the members-only channel');
  t.same(codes(gone), [110, 321]);
});

t.test('deleting a Waddle destroys its live channels and purges stored rooms and archives', async (t) => {
  const c = await mucCluster(t);
  let i = 100;
  while (c.placement.shardOf(`w${i}.groups.localhost`) !== 1) i++;
  const waddle = `w${i}`;
  const domain = `${waddle}.groups.localhost`;
  const general = `general@${domain}`;
  const quiet = `quiet@${domain}`;
  const owner = c.placement.shardOf(domain);
  const shard = defined(c.shards[owner], 'the Waddle shard');
  const stores = defined(c.groupStores[owner], 'the Waddle stores');
  const alice = await online(c, userOn(c, 'alice', 0));
  await join(alice, `${general}/Alice`);
  await join(alice, `${quiet}/Alice`);
  for (const room of [general, quiet]) {
    alice.send(`<message to='${room}' type='groupchat' id='m-${room}'><body>hi ${room}</body></message>`);
    await alice.next((el) => el.getChildText('body') === `hi ${room}`, 'the reflection');
  }
  alice.send(`<presence to='${quiet}/Alice' type='unavailable'/>`);
  await alice.next((el) => el.name === 'presence' && el.attrs.from === `${quiet}/Alice`, 'left quiet');
  t.equal((await stores.archive.query(quiet, { max: 10 })).count, 1, 'the channel archive has the message');

  const done = (await shard.invoke('admin.waddle', { args: ['delete', waddle], opts: {} })) as { code: number; err: string[] };
  t.equal(done.code, 0, `operator delete: ${done.err.join(' ')}`);
  const destroyed = await alice.next(
    (el) =>
      el.name === 'presence' &&
      el.attrs.from === `${general}/Alice` &&
      el.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChild('destroy') !== undefined,
    'the destroy presence',
  );
  t.equal(destroyed.attrs.type, 'unavailable', 'the live channel was destroyed (§10.9)');
  await c.settle();
  await c.settle();
  for (const room of [general, quiet]) {
    t.equal(await stores.rooms.get(room), undefined, `${room}: configuration gone`);
    t.equal((await stores.archive.query(room, { max: 10 })).count, 0, `${room}: archive gone`);
  }
});

t.test('room archive retention: per Waddle, else the server default', async (t) => {
  const c = await mucCluster(t, {
    config: { archive: { enabled: true, defaultPolicy: 'always', retentionDays: 30, maxPageSize: 50, sweepIntervalSec: 3600 } },
  });
  let i = 200;
  while (c.placement.shardOf(`w${i}.groups.localhost`) !== 0) i++;
  const waddle = `w${i}`;
  const channel = `general@${waddle}.groups.localhost`;
  let j = 0;
  while (c.placement.shardOf(`adhoc${j}@conference.localhost`) !== 0) j++;
  const adhoc = `adhoc${j}@conference.localhost`;
  const shard = defined(c.shards[0], 'shard 0');
  const stores = defined(c.groupStores[0], 'shard 0 stores');
  const alice = await online(c, userOn(c, 'alice', 1));
  await join(alice, `${channel}/Alice`); // creates the Waddle and a persistent channel
  await join(alice, `${adhoc}/Alice`);
  alice.send(
    `<iq type='set' id='cfg' to='${adhoc}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_persistentroom'><value>1</value></field></x></query></iq>`,
  );
  await alice.next((el) => el.name === 'iq' && el.attrs.id === 'cfg', 'configured');
  const day = 86_400_000;
  const now = Date.now();
  for (const room of [channel, adhoc]) {
    for (const age of [40, 10, 1]) {
      await stores.archive.append(room, {
        id: `${room}-${age}`,
        ts: now - age * day,
        with: alice.bare,
        xml: `<message><body>${age}</body></message>`,
      });
    }
  }
  const set = (await shard.invoke('admin.waddle', { args: ['retention', waddle, '7'], opts: {} })) as { code: number };
  t.equal(set.code, 0, 'the Waddle keeps 7 days');
  const deleted = await shard.invoke('muc.sweep-archives', { now });
  t.equal(deleted, 3, 'one old entry of the ad-hoc room (30 days) and two of the channel (7 days)');
  const ids = async (room: string) => (await stores.archive.query(room, { max: 10 })).items.map((x) => x.id);
  t.same(await ids(channel), [`${channel}-1`], 'the channel follows its Waddle');
  t.same(await ids(adhoc), [`${adhoc}-10`, `${adhoc}-1`], 'the ad-hoc room follows the server');
});
