// XEP-0045 occupant use cases on 2 shards: history limits, nick change, private messages, subject,
// password and members-only rooms, self-ping, occupant ids, invitations.
import t from 'tap';
import type { xml } from '../../../src/xmpp/xml.ts';
import {
  CONF,
  codes,
  defined,
  errorCondition,
  instantRoom,
  isSubject,
  item,
  join,
  last,
  mucCluster,
  NS_MUC,
  NS_USER,
  online,
  roomOn,
  stanzaFrom,
  userOn,
} from './muc-helpers.ts';

const body = (text: string) => (el: ReturnType<typeof xml>) => el.name === 'message' && el.getChildText('body') === text;

t.test('history: maxstanzas, maxchars, seconds, delay from the room', async (t) => {
  const c = await mucCluster(t);
  const room = roomOn(c, 'h', 0);
  const alice = await online(c, userOn(c, 'alice', 1));
  await instantRoom(alice, room, 'Alice');
  for (let i = 1; i <= 5; i++) {
    alice.send(`<message to='${room}' type='groupchat' id='h${i}'><body>m${i}</body></message>`);
    await alice.next(body(`m${i}`));
  }
  const bob = await online(c, userOn(c, 'bob', 1));
  const all = await join(bob, `${room}/Bob`);
  const hist = all.filter((el) => el.name === 'message' && el.getChild('body'));
  t.same(
    hist.map((m) => m.getChildText('body')),
    ['m1', 'm2', 'm3', 'm4', 'm5'],
    'whole history in order',
  );
  t.equal(hist[0]?.getChild('delay', 'urn:xmpp:delay')?.attrs.from, room, '§7.2.14 delay from the room');
  t.ok(all.indexOf(defined(hist[4], 'fifth history message')) < all.findIndex(isSubject), 'history before subject');

  const carol = await online(c, userOn(c, 'carol', 0));
  const two = await join(carol, `${room}/Carol`, `<x xmlns='${NS_MUC}'><history maxstanzas='2'/></x>`);
  t.same(
    two.filter((el) => el.getChild('body')).map((m) => m.getChildText('body')),
    ['m4', 'm5'],
    'maxstanzas',
  );
  const dave = await online(c, userOn(c, 'dave', 0));
  const none = await join(dave, `${room}/Dave`, `<x xmlns='${NS_MUC}'><history maxchars='0'/></x>`);
  t.equal(none.filter((el) => el.getChild('body')).length, 0, 'maxchars 0: no history');
  const erin = await online(c, userOn(c, 'erin', 1));
  const recent = await join(erin, `${room}/Erin`, `<x xmlns='${NS_MUC}'><history since='2999-01-01T00:00:00Z'/></x>`);
  t.equal(recent.filter((el) => el.getChild('body')).length, 0, 'since in the future: nothing');
  const fay = await online(c, userOn(c, 'fay', 1));
  const sized = await join(fay, `${room}/Fay`, `<x xmlns='${NS_MUC}'><history maxchars='600'/></x>`);
  const n = sized.filter((el) => el.getChild('body')).length;
  t.ok(n > 0 && n < 5, `maxchars keeps the newest that fit (${n})`);
});

t.test('nick change (303), presence update, private messages, subject', async (t) => {
  const c = await mucCluster(t);
  const room = roomOn(c, 'n', 1);
  const alice = await online(c, userOn(c, 'alice', 0));
  const bob = await online(c, userOn(c, 'bob', 0));
  await instantRoom(alice, room, 'Alice');
  await join(bob, `${room}/Bob`);
  await alice.drain();

  bob.send(`<presence to='${room}/Robert'/>`);
  const gone = await alice.next((el) => el.attrs.from === `${room}/Bob` && el.attrs.type === 'unavailable');
  t.same(codes(gone), [303]);
  t.equal(item(gone)?.attrs.nick, 'Robert');
  const back = await alice.next((el) => el.attrs.from === `${room}/Robert` && el.name === 'presence');
  t.equal(back.attrs.type, undefined);
  const selfGone = await bob.next((el) => el.attrs.from === `${room}/Bob`);
  t.same(codes(selfGone), [110, 303]);

  bob.send(`<presence to='${room}/Robert'><show>away</show></presence>`);
  const away = await alice.next((el) => el.attrs.from === `${room}/Robert` && el.getChildText('show') === 'away');
  t.ok(away, 'presence update broadcast');

  // §7.5 private message.
  bob.send(`<message to='${room}/Alice' type='chat' id='pm1'><body>psst</body></message>`);
  const pm = await alice.next(body('psst'));
  t.equal(pm.attrs.from, `${room}/Robert`);
  t.equal(pm.attrs.to, alice.full);
  t.ok(pm.getChild('x', NS_USER), 'muc#user x on a PM');
  bob.send(`<message to='${room}/Nobody' type='chat' id='pm2'><body>?</body></message>`);
  t.equal(errorCondition(await bob.next((el) => el.attrs.type === 'error')), 'item-not-found');

  // §8.1: participants may not change the subject by default; moderators may.
  bob.send(`<message to='${room}' type='groupchat' id='s1'><subject>mine</subject></message>`);
  t.equal(errorCondition(await bob.next((el) => el.attrs.type === 'error' && el.attrs.id === 's1')), 'forbidden');
  alice.send(`<message to='${room}' type='groupchat' id='s2'><subject>Topic</subject></message>`);
  const subj = await bob.next(isSubject);
  t.equal(subj.getChildText('subject'), 'Topic');
  t.equal(subj.attrs.from, `${room}/Alice`);
  const carol = await online(c, userOn(c, 'carol', 1));
  const joined = await join(carol, `${room}/Carol`);
  t.equal(joined.at(-1)?.getChildText('subject'), 'Topic', 'new occupants get the subject');
});

t.test('password and members-only rooms, max users, invitations', async (t) => {
  const c = await mucCluster(t);
  const room = roomOn(c, 'p', 0);
  const alice = await online(c, userOn(c, 'alice', 1));
  const bob = await online(c, userOn(c, 'bob', 1));
  await instantRoom(alice, room, 'Alice', {
    'muc#roomconfig_passwordprotectedroom': '1',
    'muc#roomconfig_roomsecret': 'sesame',
  });
  t.equal(errorCondition(last(await join(bob, `${room}/Bob`))), 'not-authorized', '§7.2.6 no password');
  t.equal(errorCondition(last(await join(bob, `${room}/Bob`, `<x xmlns='${NS_MUC}'><password>nope</password></x>`))), 'not-authorized');
  const ok = await join(bob, `${room}/Bob`, `<x xmlns='${NS_MUC}'><password>sesame</password></x>`);
  t.same(codes(stanzaFrom(ok, `${room}/Bob`)), [110, 170]);

  const room2 = roomOn(c, 'mo', 1);
  await instantRoom(alice, room2, 'Alice', { 'muc#roomconfig_membersonly': '1', 'muc#roomconfig_maxusers': '2' });
  t.equal(errorCondition(last(await join(bob, `${room2}/Bob`))), 'registration-required', '§7.2.7');
  // §7.8.2: an admin's invitation to a members-only room makes the invitee a member.
  alice.send(
    `<message to='${room2}' id='inv'><x xmlns='${NS_USER}'><invite to='${bob.bare}'><reason>join us</reason></invite></x></message>`,
  );
  const inv = await bob.next((el) => el.name === 'message' && el.getChild('x', NS_USER)?.getChild('invite') !== undefined);
  t.equal(inv.attrs.from, room2);
  t.equal(inv.getChild('x', NS_USER)?.getChild('invite')?.attrs.from, alice.full);
  t.equal(inv.getChild('x', NS_USER)?.getChild('invite')?.getChildText('reason'), 'join us');
  const member = await join(bob, `${room2}/Bob`);
  t.equal(item(stanzaFrom(member, `${room2}/Bob`))?.attrs.affiliation, 'member');
  // Decline goes back to the inviter.
  const carol = await online(c, userOn(c, 'carol', 0));
  carol.send(
    `<message to='${room2}' id='dec'><x xmlns='${NS_USER}'><decline to='${alice.bare}'><reason>busy</reason></decline></x></message>`,
  );
  const dec = await alice.next((el) => el.getChild('x', NS_USER)?.getChild('decline') !== undefined);
  t.equal(dec.getChild('x', NS_USER)?.getChild('decline')?.attrs.from, carol.bare);
  // §7.2.10: max users 2 (alice + bob): a third member is refused.
  alice.send(
    `<iq type='set' id='mem' to='${room2}'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='member' jid='${carol.bare}'/></query></iq>`,
  );
  await alice.next((el) => el.attrs.id === 'mem');
  t.equal(errorCondition(last(await join(carol, `${room2}/Carol`))), 'service-unavailable', '§7.2.10 room full');
});

t.test('self-ping (XEP-0410) and stable occupant ids (XEP-0421)', async (t) => {
  const c = await mucCluster(t);
  const room = roomOn(c, 'sp', 1);
  const alice = await online(c, userOn(c, 'alice', 0));
  const bob = await online(c, userOn(c, 'bob', 0));
  await instantRoom(alice, room, 'Alice');
  const ping = (p: typeof alice, nick: string, id: string) =>
    p.iq(`<iq type='get' id='${id}' to='${room}/${nick}'><ping xmlns='urn:xmpp:ping'/></iq>`, id);
  t.equal((await ping(alice, 'Alice', 'p1')).attrs.type, 'result', 'joined: result');
  const notJoined = await ping(bob, 'Bob', 'p2');
  t.equal(errorCondition(notJoined), 'not-acceptable', 'not joined: not-acceptable');

  const first = await join(bob, `${room}/Bob`);
  const id1 = first.find((el) => el.attrs.from === `${room}/Bob`)?.getChild('occupant-id')?.attrs.id;
  bob.send(`<presence to='${room}/Bob' type='unavailable'/>`);
  await bob.next((el) => el.attrs.type === 'unavailable');
  const second = await join(bob, `${room}/Bobby`);
  const id2 = second.find((el) => el.attrs.from === `${room}/Bobby`)?.getChild('occupant-id')?.attrs.id;
  t.ok(id1);
  t.equal(id2, id1, 'same occupant id under another nick');
  const aliceId = first.find((el) => el.attrs.from === `${room}/Alice`)?.getChild('occupant-id')?.attrs.id;
  t.not(aliceId, id1, 'different users, different ids');
  void CONF;
});

t.test('an occupant whose session ends leaves the room (RFC 6121 §4.6.3 directed presence)', async (t) => {
  const c = await mucCluster(t);
  const room = roomOn(c, 'off', 0);
  const alice = await online(c, userOn(c, 'alice', 1));
  const bob = await online(c, userOn(c, 'bob', 1));
  await instantRoom(alice, room, 'Alice');
  await join(bob, `${room}/Bob`);
  // Bob renamed himself once: the presence module remembers both addresses, the room handles both.
  bob.send(`<presence to='${room}/Robert'/>`);
  await alice.next((el) => el.attrs.from === `${room}/Robert` && el.attrs.type === undefined);
  c.shards[bob.client.conn.home as number]?.home.connectionEnded(bob.client.shard.id, bob.client.conn.id, false);
  const left = await alice.next((el) => el.attrs.from === `${room}/Robert` && el.attrs.type === 'unavailable', 'bob leaving');
  t.same(codes(left), []);
  t.equal(item(left)?.attrs.role, 'none');
  const info = await alice.iq(`<iq type='get' id='i' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 'i');
  t.equal(info.getChild('query')?.getChild('x')?.getChildByAttr('var', 'muc#roominfo_occupants')?.getChildText('value'), '1');
});

t.test('iqs between occupants are relayed under occupant JIDs (vCard to the bare JID)', async (t) => {
  const c = await mucCluster(t);
  const room = roomOn(c, 'relay', 0);
  const alice = await online(c, userOn(c, 'alice', 1));
  const bob = await online(c, userOn(c, 'bob', 0));
  const zed = await online(c, userOn(c, 'zed', 1));
  await instantRoom(alice, room, 'Alice');
  await join(bob, `${room}/Bob`);
  await alice.drain();

  bob.send(`<iq type='get' id='v1' to='${room}/Alice'><query xmlns='jabber:iq:version'/></iq>`);
  const asked = await alice.next((el) => el.name === 'iq' && el.attrs.type === 'get', 'the relayed request');
  t.equal(asked.attrs.from, `${room}/Bob`, 'from the asking occupant, not its real JID');
  t.equal(asked.attrs.to, alice.full, "to the occupant's joined resource");
  t.not(asked.attrs.id, 'v1', 'under an id of the room');
  t.ok(asked.getChild('query', 'jabber:iq:version'));
  alice.send(
    `<iq type='result' id='${String(asked.attrs.id)}' to='${room}/Bob'><query xmlns='jabber:iq:version'><name>A</name></query></iq>`,
  );
  const answer = await bob.next((el) => el.name === 'iq' && el.attrs.id === 'v1', 'the relayed answer');
  t.equal(answer.attrs.type, 'result');
  t.equal(answer.attrs.from, `${room}/Alice`, 'the answer comes from the asked occupant');
  t.equal(answer.getChild('query')?.getChildText('name'), 'A');

  // An answer to an id nobody asked, or from someone else, goes nowhere.
  zed.send(`<iq type='result' id='${String(asked.attrs.id)}' to='${room}/Bob'/>`);
  t.same(
    (await bob.drain()).filter((el) => el.name === 'iq'),
    [],
    'a replayed answer is dropped',
  );

  bob.send(`<iq type='get' id='vc' to='${room}/Alice'><vCard xmlns='vcard-temp'/></iq>`);
  const vc = await bob.next((el) => el.name === 'iq' && el.attrs.id === 'vc', 'the vCard answer');
  t.equal(vc.attrs.from, `${room}/Alice`);
  t.equal(vc.attrs.type, 'error', "alice's account answers for her (no vCard store here: service-unavailable)");
  t.same(
    (await alice.drain()).filter((el) => el.name === 'iq'),
    [],
    "the vCard request went to alice's bare JID, not to her client",
  );

  zed.send(`<iq type='get' id='x' to='${room}/Alice'><query xmlns='jabber:iq:version'/></iq>`);
  const refused = await zed.next((el) => el.name === 'iq' && el.attrs.id === 'x', 'refusal');
  t.equal(errorCondition(refused), 'not-acceptable', 'non-occupants cannot reach occupants');
  bob.send(`<iq type='get' id='y' to='${room}/Nobody'><query xmlns='jabber:iq:version'/></iq>`);
  t.equal(errorCondition(await bob.next((el) => el.name === 'iq' && el.attrs.id === 'y', 'missing nick')), 'item-not-found');
});
