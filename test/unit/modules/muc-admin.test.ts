// XEP-0045 moderator, admin and owner use cases on 2 shards: kick, ban, voice, affiliation lists,
// configuration form, reserved rooms, destruction, persistence across a restart, disco.
import t from 'tap';
import {
  CONF,
  codes,
  defined,
  errorCondition,
  instantRoom,
  item,
  join,
  last,
  mucCluster,
  online,
  type Peer,
  roomOn,
  stanzaFrom,
  userOn,
} from './muc-helpers.ts';

const ADMIN = 'http://jabber.org/protocol/muc#admin';
const OWNER = 'http://jabber.org/protocol/muc#owner';

function adminSet(p: Peer, room: string, id: string, items: string) {
  return p.iq(`<iq type='set' id='${id}' to='${room}'><query xmlns='${ADMIN}'>${items}</query></iq>`, id);
}

t.test('kick (307), voice, ban (301), affiliation lists, permissions', async (t) => {
  const c = await mucCluster(t);
  const room = roomOn(c, 'k', 0);
  const alice = await online(c, userOn(c, 'alice', 1));
  const bob = await online(c, userOn(c, 'bob', 1));
  const carol = await online(c, userOn(c, 'carol', 0));
  await instantRoom(alice, room, 'Alice', { 'muc#roomconfig_moderatedroom': '1' });
  const bj = await join(bob, `${room}/Bob`);
  t.equal(item(stanzaFrom(bj, `${room}/Bob`))?.attrs.role, 'visitor', 'moderated room: visitor');
  await join(carol, `${room}/Carol`);

  bob.send(`<message to='${room}' type='groupchat' id='v'><body>hi</body></message>`);
  t.equal(errorCondition(await bob.next((el) => el.attrs.id === 'v' && el.attrs.type === 'error')), 'forbidden', 'visitors have no voice');

  // Voice request (§8.6) reaches the moderator as a form.
  bob.send(
    `<message to='${room}' id='vr'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field><field var='muc#role'><value>participant</value></field></x></message>`,
  );
  const form = await alice.next((el) => el.name === 'message' && el.getChild('x', 'jabber:x:data') !== undefined);
  t.equal(form.getChild('x', 'jabber:x:data')?.getChildByAttr('var', 'muc#roomnick')?.getChildText('value'), 'Bob');

  t.equal((await adminSet(alice, room, 'voice', `<item nick='Bob' role='participant'/>`)).attrs.type, 'result');
  const voiced = await carol.next((el) => el.attrs.from === `${room}/Bob` && item(el)?.attrs.role === 'participant');
  t.ok(voiced, 'voice broadcast');

  // A participant cannot kick.
  const denied = await adminSet(bob, room, 'k0', `<item nick='Carol' role='none'/>`);
  t.equal(errorCondition(denied), 'forbidden');
  // A moderator cannot kick an owner.
  await adminSet(alice, room, 'mod', `<item nick='Carol' role='moderator'/>`);
  t.equal(
    errorCondition(await adminSet(carol, room, 'k1', `<item nick='Alice' role='none'/>`)),
    'forbidden',
    'only admins touch moderators',
  );

  const kicked = await adminSet(alice, room, 'k2', `<item nick='Carol' role='none'><reason>out</reason></item>`);
  t.equal(kicked.attrs.type, 'result');
  const ck = await carol.next((el) => el.attrs.type === 'unavailable' && el.attrs.from === `${room}/Carol`);
  t.same(codes(ck), [110, 307]);
  t.equal(item(ck)?.getChildText('reason'), 'out');
  t.equal(item(ck)?.getChild('actor')?.attrs.nick, 'Alice');
  const bk = await bob.next((el) => el.attrs.type === 'unavailable' && el.attrs.from === `${room}/Carol`);
  t.same(codes(bk), [307]);

  // Ban by JID (§9.1).
  t.equal(
    (await adminSet(alice, room, 'b', `<item affiliation='outcast' jid='${bob.bare}'><reason>spam</reason></item>`)).attrs.type,
    'result',
  );
  const bb = await bob.next((el) => el.attrs.type === 'unavailable' && el.attrs.from === `${room}/Bob`);
  t.same(codes(bb), [110, 301]);
  t.equal(item(bb)?.attrs.affiliation, 'outcast');
  t.equal(errorCondition(last(await join(bob, `${room}/Bob`))), 'forbidden', '§7.2.8 banned');

  const list = await alice.iq(`<iq type='get' id='l' to='${room}'><query xmlns='${ADMIN}'><item affiliation='outcast'/></query></iq>`, 'l');
  const items = list.getChild('query')?.getChildren('item') ?? [];
  t.same(
    items.map((i) => [i.attrs.jid, i.getChildText('reason')]),
    [[bob.bare, 'spam']],
  );
  t.equal(
    errorCondition(
      await carol.iq(`<iq type='get' id='l2' to='${room}'><query xmlns='${ADMIN}'><item affiliation='outcast'/></query></iq>`, 'l2'),
    ),
    'forbidden',
  );

  // The last owner cannot step down (§10.6).
  t.equal(errorCondition(await adminSet(alice, room, 'o', `<item affiliation='none' jid='${alice.bare}'/>`)), 'conflict');
  // Admin grants by owner, admins cannot touch owners.
  await adminSet(alice, room, 'a', `<item affiliation='admin' jid='${carol.bare}'/>`);
  t.equal(errorCondition(await adminSet(carol, room, 'a2', `<item affiliation='outcast' jid='${alice.bare}'/>`)), 'not-allowed');
});

t.test('configuration form round trip, reserved room, destroy with alternate venue, disco', async (t) => {
  const c = await mucCluster(t);
  const room = roomOn(c, 'cfg', 1);
  const alice = await online(c, userOn(c, 'alice', 0));
  const bob = await online(c, userOn(c, 'bob', 0));
  const created = await join(alice, `${room}/Alice`);
  t.ok(
    codes(
      defined(
        created.find((el) => el.name === 'presence'),
        'self-presence',
      ),
    ).includes(201),
  );

  // §10.1.3 reserved room: fetch the form, submit it.
  const form = await alice.iq(`<iq type='get' id='f' to='${room}'><query xmlns='${OWNER}'/></iq>`, 'f');
  const x = form.getChild('query')?.getChild('x', 'jabber:x:data');
  t.equal(x?.getChildByAttr('var', 'FORM_TYPE')?.getChildText('value'), 'http://jabber.org/protocol/muc#roomconfig');
  t.equal(x?.getChildByAttr('var', 'muc#roomconfig_historylength')?.getChildText('value'), '20');
  const submit = `<iq type='set' id='s' to='${room}'><query xmlns='${OWNER}'><x xmlns='jabber:x:data' type='submit'>
    <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>
    <field var='muc#roomconfig_roomname'><value>Tea Room</value></field>
    <field var='muc#roomconfig_roomdesc'><value>Darjeeling</value></field>
    <field var='muc#roomconfig_persistentroom'><value>1</value></field>
    <field var='muc#roomconfig_whois'><value>anyone</value></field>
    <field var='muc#roomconfig_historylength'><value>500</value></field>
  </x></query></iq>`;
  t.equal((await alice.iq(submit, 's')).attrs.type, 'result');
  const again = await alice.iq(`<iq type='get' id='f2' to='${room}'><query xmlns='${OWNER}'/></iq>`, 'f2');
  const x2 = again.getChild('query')?.getChild('x', 'jabber:x:data');
  t.equal(x2?.getChildByAttr('var', 'muc#roomconfig_roomname')?.getChildText('value'), 'Tea Room');
  t.equal(x2?.getChildByAttr('var', 'muc#roomconfig_historylength')?.getChildText('value'), '20', 'capped at config.muc.historyMessages');
  t.equal(x2?.getChildByAttr('var', 'muc#roomconfig_whois')?.getChildText('value'), 'anyone');
  t.equal(errorCondition(await bob.iq(`<iq type='get' id='f3' to='${room}'><query xmlns='${OWNER}'/></iq>`, 'f3')), 'forbidden');

  const bj = await join(bob, `${room}/Bob`);
  t.same(codes(stanzaFrom(bj, `${room}/Bob`)), [100, 110, 170], 'non-anonymous: 100');
  t.equal(item(stanzaFrom(bj, `${room}/Alice`))?.attrs.jid, alice.full, 'everyone sees real JIDs');

  const info = await bob.iq(`<iq type='get' id='d' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 'd');
  const q = defined(info.getChild('query'), 'disco#info query');
  t.equal(q.getChild('identity')?.attrs.category, 'conference');
  t.equal(q.getChild('identity')?.attrs.name, 'Tea Room');
  const features = q.getChildren('feature').map((f) => f.attrs.var);
  for (const f of [
    'http://jabber.org/protocol/muc',
    'muc_persistent',
    'muc_open',
    'muc_unmoderated',
    'muc_unsecured',
    'muc_public',
    'muc_nonanonymous',
    'urn:xmpp:mam:2',
    'urn:xmpp:occupant-id:0',
  ])
    t.ok(features.includes(f), f);
  t.equal(q.getChild('x', 'jabber:x:data')?.getChildByAttr('var', 'muc#roominfo_occupants')?.getChildText('value'), '2');

  const items = await bob.iq(`<iq type='get' id='di' to='${CONF}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`, 'di');
  t.same(
    items
      .getChild('query')
      ?.getChildren('item')
      .map((i) => [i.attrs.jid, i.attrs.name]),
    [[room, 'Tea Room']],
    'service lists the public room (held by another shard)',
  );
  const sinfo = await bob.iq(`<iq type='get' id='si' to='${CONF}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 'si');
  t.ok(
    sinfo
      .getChild('query')
      ?.getChildren('feature')
      .some((f) => f.attrs.var === 'http://jabber.org/protocol/muc'),
  );

  // §10.9 destroy.
  const d = await alice.iq(
    `<iq type='set' id='x' to='${room}'><query xmlns='${OWNER}'><destroy jid='other@${CONF}'><reason>moved</reason></destroy></query></iq>`,
    'x',
  );
  t.equal(d.attrs.type, 'result');
  const gone = await bob.next((el) => el.attrs.type === 'unavailable' && el.attrs.from === `${room}/Bob`);
  const destroy = gone.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChild('destroy');
  t.equal(destroy?.attrs.jid, `other@${CONF}`);
  t.equal(destroy?.getChildText('reason'), 'moved');
  t.equal(item(gone)?.attrs.role, 'none');
  const after = await bob.iq(`<iq type='get' id='d2' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 'd2');
  t.equal(errorCondition(after), 'item-not-found', 'destroyed room is gone');

  // §10.1.3: cancelling the initial configuration destroys the new room.
  const room2 = roomOn(c, 'cancel', 0);
  await join(alice, `${room2}/Alice`);
  await alice.iq(
    `<iq type='set' id='cx' to='${room2}'><query xmlns='${OWNER}'><x xmlns='jabber:x:data' type='cancel'/></query></iq>`,
    'cx',
  );
  const gone2 = await alice.iq(`<iq type='get' id='d3' to='${room2}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 'd3');
  t.equal(errorCondition(gone2), 'item-not-found');
});

t.test('persistent rooms survive a cluster restart with config, subject, affiliations and history', async (t) => {
  const dataDir = t.testdir();
  const c1 = await mucCluster(t, { dataDir });
  const room = roomOn(c1, 'persist', 0);
  const aliceBare = userOn(c1, 'alice', 1);
  const bobBare = userOn(c1, 'bob', 0);
  const alice = await online(c1, aliceBare);
  await instantRoom(alice, room, 'Alice', {
    'muc#roomconfig_persistentroom': '1',
    'muc#roomconfig_roomname': 'Kept',
    'muc#roomconfig_membersonly': '1',
  });
  await adminSet(alice, room, 'm', `<item affiliation='member' jid='${bobBare}' nick='Bobby'/>`);
  alice.send(`<message to='${room}' type='groupchat' id='s'><subject>Stays</subject></message>`);
  await alice.next((el) => el.getChildText('subject') === 'Stays');
  alice.send(`<message to='${room}' type='groupchat' id='b'><body>remember me</body></message>`);
  await alice.next((el) => el.getChildText('body') === 'remember me');
  alice.send(`<presence to='${room}/Alice' type='unavailable'/>`);
  await alice.next((el) => el.attrs.type === 'unavailable');
  for (const g of c1.groupStores) await g.flush();
  await c1.stop();
  for (const g of c1.groupStores) await g.close();

  const c2 = await mucCluster(t, { dataDir });
  const bob = await online(c2, bobBare);
  const joined = await join(bob, `${room}/Bobby`);
  const self = stanzaFrom(joined, `${room}/Bobby`);
  t.equal(item(self)?.attrs.affiliation, 'member', 'affiliation kept');
  t.equal(joined.at(-1)?.getChildText('subject'), 'Stays', 'subject kept');
  t.ok(
    joined.some((el) => el.getChildText('body') === 'remember me'),
    'history from the archive',
  );
  const info = await bob.iq(`<iq type='get' id='d' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 'd');
  t.equal(info.getChild('query')?.getChild('identity')?.attrs.name, 'Kept');
  t.ok(
    info
      .getChild('query')
      ?.getChildren('feature')
      .some((f) => f.attrs.var === 'muc_membersonly'),
  );
  // A non-member is still kept out.
  const carol = await online(c2, userOn(c2, 'carol', 1));
  t.equal(errorCondition(last(await join(carol, `${room}/Carol`))), 'registration-required');
});

t.test('temporary rooms vanish with their last occupant; creation can be limited to admins', async (t) => {
  const c = await mucCluster(t, { config: { muc: { historyMessages: 20, maxOccupants: 1000, createRooms: 'admins' }, admins: [] } });
  const room = roomOn(c, 'tmp', 1);
  const alice = await online(c, userOn(c, 'alice', 0));
  t.equal(errorCondition(last(await join(alice, `${room}/Alice`))), 'not-allowed', 'creation refused');
  const info = await alice.iq(`<iq type='get' id='d' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 'd');
  t.equal(errorCondition(info), 'item-not-found');
});
