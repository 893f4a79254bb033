// Room archives: XEP-0313 queries on the room JID (paging), XEP-0425 moderation with a tombstone.
import t from 'tap';
import { parseElement } from '../../../src/xmpp/stream-parser.ts';
import { codes, defined, errorCondition, instantRoom, join, mucCluster, online, roomOn, userOn } from './muc-helpers.ts';

t.test('room MAM paging and XEP-0425 moderation', async (t) => {
  const c = await mucCluster(t);
  const room = roomOn(c, 'arch', 0);
  const alice = await online(c, userOn(c, 'alice', 1));
  const bob = await online(c, userOn(c, 'bob', 1));
  const stranger = await online(c, userOn(c, 'zed', 0));
  await instantRoom(alice, room, 'Alice');
  await join(bob, `${room}/Bob`);
  const ids: string[] = [];
  for (let i = 1; i <= 5; i++) {
    bob.send(`<message to='${room}' type='groupchat' id='a${i}'><body>n${i}</body></message>`);
    const m = await alice.next((el) => el.getChildText('body') === `n${i}`);
    ids.push(String(m.getChild('stanza-id')?.attrs.id));
  }

  const q = (p: typeof alice, id: string, rsm: string) =>
    p.send(
      `<iq type='set' id='${id}' to='${room}'><query xmlns='urn:xmpp:mam:2' queryid='${id}'><set xmlns='http://jabber.org/protocol/rsm'>${rsm}</set></query></iq>`,
    );
  q(alice, 'q1', '<max>2</max>');
  const fin1 = await alice.next((el) => el.name === 'iq' && el.attrs.id === 'q1');
  const page1 = alice.inbox.splice(0).filter((el) => el.getChild('result', 'urn:xmpp:mam:2')?.attrs.queryid === 'q1');
  t.same(
    page1.map((m) => m.getChild('result')?.attrs.id),
    ids.slice(0, 2),
    'first page',
  );
  t.equal(page1[0]?.attrs.from, room, 'results come from the room');
  const fwd = page1[0]?.getChild('result')?.getChild('forwarded')?.getChild('message');
  t.equal(fwd?.attrs.from, `${room}/Bob`);
  const last = fin1.getChild('fin')?.getChild('set')?.getChildText('last');
  t.equal(last, ids[1]);
  q(alice, 'q2', `<max>10</max><after>${last}</after>`);
  const fin2 = await alice.next((el) => el.name === 'iq' && el.attrs.id === 'q2');
  const page2 = alice.inbox.splice(0).filter((el) => el.getChild('result')?.attrs.queryid === 'q2');
  t.same(
    page2.map((m) => m.getChild('result')?.attrs.id),
    ids.slice(2),
  );
  t.equal(fin2.getChild('fin')?.attrs.complete, 'true');

  q(stranger, 'q3', '<max>1</max>');
  t.equal(errorCondition(await stranger.next((el) => el.attrs.id === 'q3')), 'forbidden', 'non-occupants may not read');

  // XEP-0425: a participant may not moderate, a moderator may.
  const mod = (p: typeof alice, id: string, target: string) =>
    p.iq(
      `<iq type='set' id='${id}' to='${room}'><moderate xmlns='urn:xmpp:message-moderate:1' id='${target}'><retract xmlns='urn:xmpp:message-retract:1'/><reason>spam</reason></moderate></iq>`,
      id,
    );
  const first = defined(ids[0], 'first stanza-id');
  t.equal(errorCondition(await mod(bob, 'x1', first)), 'forbidden');
  t.equal(errorCondition(await mod(alice, 'x2', 'nope')), 'item-not-found');
  t.equal((await mod(alice, 'x3', first)).attrs.type, 'result');
  const notice = await bob.next((el) => el.name === 'message' && el.getChild('retract', 'urn:xmpp:message-retract:1') !== undefined);
  t.equal(notice.attrs.from, room);
  const retract = notice.getChild('retract', 'urn:xmpp:message-retract:1');
  t.equal(retract?.attrs.id, ids[0]);
  t.equal(retract?.getChild('moderated', 'urn:xmpp:message-moderate:1')?.attrs.by, `${room}/Alice`);
  t.equal(retract?.getChildText('reason'), 'spam');

  const stored = await c.groupStores[c.placement.shardOf(room)]?.archive.get(room, first);
  t.ok(stored, 'entry kept');
  const tomb = parseElement(stored?.xml ?? '<none/>');
  t.equal(tomb.getChild('body'), undefined, 'body gone');
  const retracted = tomb.getChild('retracted', 'urn:xmpp:message-retract:1');
  t.ok(retracted?.attrs.stamp, 'tombstone with a stamp');
  t.equal(retracted?.getChild('moderated', 'urn:xmpp:message-moderate:1')?.attrs.by, `${room}/Alice`);
  t.equal(retracted?.getChildText('reason'), 'spam');
  t.equal(
    tomb.getChild('occupant-id', 'urn:xmpp:occupant-id:0')?.attrs.id,
    fwd?.getChild('occupant-id')?.attrs.id,
    'author occupant-id kept',
  );

  // The moderation notice is archived too, so clients syncing by MAM learn of it.
  q(bob, 'q4', `<max>1</max><before/>`);
  await bob.next((el) => el.name === 'iq' && el.attrs.id === 'q4');
  const lastItem = bob.inbox.splice(0).find((el) => el.getChild('result')?.attrs.queryid === 'q4');
  t.ok(lastItem?.getChild('result')?.getChild('forwarded')?.getChild('message')?.getChild('retract', 'urn:xmpp:message-retract:1'));
});

t.test('with the archive off ([archive] enabled = false) rooms log nothing and keep history in memory', async (t) => {
  const c = await mucCluster(t, {
    config: { archive: { enabled: false, defaultPolicy: 'always', retentionDays: 0, maxPageSize: 50, sweepIntervalSec: 3600 } },
  });
  const room = roomOn(c, 'nolog', 1);
  const alice = await online(c, userOn(c, 'alice', 0));
  const bob = await online(c, userOn(c, 'bob', 1));
  const created = await instantRoom(alice, room, 'Alice');
  t.notOk(
    created.some((el) => el.name === 'presence' && codes(el).includes(170)),
    'no 170 (room is logged) on joining',
  );
  alice.send(`<message to='${room}' type='groupchat' id='h1'><body>remember me</body></message>`);
  await alice.next((el) => el.getChildText('body') === 'remember me', 'the reflection');
  const store = defined(c.groupStores[c.placement.shardOf(room)], 'the room shard stores');
  t.equal((await store.archive.query(room, { max: 10 })).count, 0, 'nothing written to the room archive');
  const joined = await join(bob, `${room}/Bob`);
  const history = joined.find((el) => el.name === 'message' && el.getChildText('body') === 'remember me');
  t.ok(history?.getChild('delay', 'urn:xmpp:delay'), 'history on join still works, from memory');
  const info = await bob.iq(`<iq type='get' id='i1' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 'i1');
  t.notOk(
    info
      .getChild('query')
      ?.getChildren('feature')
      .some((f) => f.attrs.var === 'urn:xmpp:mam:2'),
    'the room does not advertise MAM',
  );
});
