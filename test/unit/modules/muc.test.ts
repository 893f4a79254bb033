// XEP-0045 core on a 2-shard cluster: rooms and occupants homed on different shards, real group stores.
import t from 'tap';
import { codes, defined, errorCondition, instantRoom, item, join, last, mucCluster, online, roomOn, userOn } from './muc-helpers.ts';

t.test('join sequence: occupants first, self-presence with 110 and 201, subject last', async (t) => {
  const c = await mucCluster(t);
  const room = roomOn(c, 'r', 0);
  const alice = await online(c, userOn(c, 'alice', 1));
  const bob = await online(c, userOn(c, 'bob', 1));
  t.not(c.placement.shardOf(alice.bare), c.placement.shardOf(room), 'alice is homed away from the room');

  const created = await join(alice, `${room}/Alice`);
  const found = created.find((el) => el.name === 'presence');
  t.ok(found, 'self-presence');
  const selfP = defined(found, 'self-presence');
  t.same(codes(selfP).sort(), [110, 170, 201], '110 self, 170 logged, 201 created');
  t.equal(item(selfP)?.attrs.affiliation, 'owner');
  t.equal(item(selfP)?.attrs.role, 'moderator');
  t.equal(created.at(-1)?.getChild('subject')?.text(), '', 'an empty subject ends the join');

  // Locked until configured: §10.1.1.
  const refused = await join(bob, `${room}/Bob`);
  t.equal(refused.at(-1)?.attrs.type, 'error');
  t.equal(errorCondition(last(refused)), 'item-not-found', 'a locked room is not found');

  const cfg = await alice.iq(
    `<iq type='set' id='inst' to='${room}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`,
    'inst',
  );
  t.equal(cfg.attrs.type, 'result', 'instant room accepted');

  const seq = await join(bob, `${room}/Bob`);
  const names = seq.map((el) => `${el.name}:${el.attrs.from}`);
  t.same(names, [`presence:${room}/Alice`, `presence:${room}/Bob`, `message:${room}`], 'occupant, self, subject');
  const [aliceP, bobSelf] = [defined(seq[0], "alice's presence"), defined(seq[1], "bob's self-presence")];
  t.same(codes(bobSelf).sort(), [110, 170]);
  t.notOk(item(aliceP)?.attrs.jid, 'semi-anonymous: a participant does not see real JIDs');
  t.ok(bobSelf.getChild('occupant-id', 'urn:xmpp:occupant-id:0'), 'occupant-id on presence');

  const seen = await alice.next((el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`, 'bob joining');
  t.equal(item(seen)?.attrs.jid, bob.full, 'a moderator sees the real JID');
  t.same(codes(seen), []);
});

t.test('messages: stanza-id, occupant-id, fan-out to every occupant, nick conflict, leave', async (t) => {
  const c = await mucCluster(t);
  const room = roomOn(c, 'm', 1);
  const alice = await online(c, userOn(c, 'alice', 0));
  const bob = await online(c, userOn(c, 'bob', 1));
  const carol = await online(c, userOn(c, 'carol', 0));
  await instantRoom(alice, room, 'Alice');
  await join(bob, `${room}/Bob`);
  await join(carol, `${room}/Carol`);

  const conflict = await join(carol, `${room}/Bob`, '');
  t.equal(conflict.at(-1)?.attrs.type, 'error', 'nick taken');
  carol.inbox.length = 0;
  const c2 = await online(c, userOn(c, 'dave', 1));
  const taken = await join(c2, `${room}/Bob`);
  t.equal(errorCondition(last(taken)), 'conflict', '§7.2.9 conflict');

  bob.send(
    `<message to='${room}' type='groupchat' id='m1'><body>hello</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='forged'/></message>`,
  );
  const got = await Promise.all(
    [alice, bob, carol].map((p) => p.next((el) => el.name === 'message' && el.getChildText('body') === 'hello')),
  );
  for (const m of got) {
    t.equal(m.attrs.from, `${room}/Bob`);
    t.equal(m.attrs.type, 'groupchat');
    const sid = m.getChild('stanza-id', 'urn:xmpp:sid:0');
    t.equal(sid?.attrs.by, room);
    t.ok(sid?.attrs.id);
  }
  const ids = got.map((m) => m.getChildren('occupant-id', 'urn:xmpp:occupant-id:0'));
  const alicesIds = defined(ids[0], "alice's occupant-ids");
  t.equal(alicesIds.length, 1, 'forged occupant-id replaced');
  t.not(defined(alicesIds[0], "alice's occupant-id").attrs.id, 'forged');
  const [toAlice, toCarol] = [defined(got[0], "alice's copy"), defined(got[2], "carol's copy")];
  t.equal(toAlice.getChild('stanza-id')?.attrs.id, toCarol.getChild('stanza-id')?.attrs.id, 'same stanza-id for everyone');
  t.equal(toAlice.attrs.to, alice.full);
  t.equal(toCarol.attrs.to, carol.full);

  // §7.4: non-occupants cannot send.
  c2.send(`<message to='${room}' type='groupchat' id='x'><body>spam</body></message>`);
  const err = await c2.next((el) => el.name === 'message' && el.attrs.type === 'error');
  t.equal(errorCondition(err), 'not-acceptable');

  // Leave.
  carol.send(`<presence to='${room}/Carol' type='unavailable'><status>bye</status></presence>`);
  const self = await carol.next((el) => el.name === 'presence' && el.attrs.type === 'unavailable');
  t.same(codes(self), [110]);
  const other = await alice.next((el) => el.name === 'presence' && el.attrs.from === `${room}/Carol` && el.attrs.type === 'unavailable');
  t.equal(other.getChildText('status'), 'bye');
  t.equal(item(other)?.attrs.role, 'none');
});
