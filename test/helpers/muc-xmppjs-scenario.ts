// The xmpp.js (@xmpp/client) group-chat scenario, run against Prosody 0.12 (test/interop/muc-prosody.test.ts)
// and against waddle (test/interop/muc-xmppjs.test.ts) with the same assertions: two users join a room,
// exchange groupchat messages, then query the room's archive and their own (XEP-0313) and check that the
// archive ids are the <stanza-id/>s seen live (XEP-0359).
import type { Test } from 'tap';
import { xml } from '@xmpp/client';
import type { Element } from '../../src/xmpp/xml.ts';
import { connectXmppJs, type TestXmpp } from './xmpp-client.ts';

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
const MAM = 'urn:xmpp:mam:2';
const RSM = 'http://jabber.org/protocol/rsm';
const SID = 'urn:xmpp:sid:0';
const WAIT_MS = 5000;

export interface XmppJsMucTarget {
  c2sPort: number;
  users: { alice: { local: string; password: string }; bob: { local: string; password: string } };
  /** A room bare JID nobody has created yet. */
  room: string;
}

const bareOf = (jid: string | undefined) => String(jid ?? '').split('/')[0] ?? '';
const statusCodes = (el: Element) =>
  (el.getChild('x', MUC_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code)).filter((n) => !Number.isNaN(n));
const stanzaIdBy = (el: Element, by: string) =>
  el.getChildren('stanza-id', SID).find((s) => s.attrs.by === by)?.attrs.id as string | undefined;

/** Joins (XEP-0045 §7.2.1) and resolves with the self-presence (status 110), accepting the default configuration of a new room. */
async function join(t: Test, c: TestXmpp, room: string, nick: string): Promise<Element> {
  await c.xmpp.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: MUC }, xml('history', { maxstanzas: '0' }))));
  const self = await c.waitFor(
    (el) => el.name === 'presence' && bareOf(el.attrs.from) === room && (el.attrs.type === 'error' || statusCodes(el).includes(110)),
    WAIT_MS,
    `self-presence in ${room}`,
  );
  t.not(self.attrs.type, 'error', `${nick}: joined ${room} (XEP-0045 §7.2.3)`);
  if (statusCodes(self).includes(201)) {
    // XEP-0045 §10.1.2: an instant room is unlocked by submitting an empty form.
    await c.xmpp.iqCaller.set(xml('query', { xmlns: MUC_OWNER }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' })), room);
  }
  return self;
}

interface MamItem {
  id: string;
  message: Element | undefined;
}

/** One XEP-0313 query (to `archive`, or the own account when undefined); resolves with the results and <fin/>. */
async function mam(
  c: TestXmpp,
  archive: string | undefined,
  max: number,
  last = false,
): Promise<{ items: MamItem[]; fin: Element | undefined }> {
  const queryid = `q${Math.random().toString(36).slice(2, 10)}`;
  // XEP-0059 §2.5: an empty <before/> asks for the last page.
  const rsm = xml('set', { xmlns: RSM }, xml('max', {}, String(max)), ...(last ? [xml('before')] : []));
  const query = xml('query', { xmlns: MAM, queryid }, rsm);
  const reply = await c.xmpp.iqCaller.request(xml('iq', { type: 'set', ...(archive ? { to: archive } : {}) }, query), WAIT_MS);
  // The result messages precede the iq result on the same stream (XEP-0313 §4.2).
  const items = c.received
    .map((el) => el.getChild('result', MAM))
    .filter((r): r is Element => r !== undefined && r.attrs.queryid === queryid)
    .map((r) => ({ id: String(r.attrs.id), message: r.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('message') }));
  return { items, fin: reply.getChild('fin', MAM) };
}

export async function xmppJsMucScenario(t: Test, target: XmppJsMucTarget): Promise<void> {
  const { room } = target;
  // Stanza ids unique per room: the same accounts may run the scenario more than once.
  const tag = room.split('@')[0] ?? 'room';
  const alice = await connectXmppJs({ port: target.c2sPort, ...mapUser(target.users.alice), resource: 'js-a' });
  const bob = await connectXmppJs({ port: target.c2sPort, ...mapUser(target.users.bob), resource: 'js-b' });
  t.teardown(async () => {
    await alice.stop();
    await bob.stop();
  });
  for (const c of [alice, bob]) await c.xmpp.send(xml('presence'));
  const aliceBare = bareOf(alice.jid);
  const bobBare = bareOf(bob.jid);

  const aliceSelf = await join(t, alice, room, 'alice');
  t.ok(statusCodes(aliceSelf).includes(201), 'the first joiner creates the room: 201 (XEP-0045 §10.1.1)');
  await join(t, bob, room, 'bob');
  await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === `${room}/bob`, WAIT_MS, "bob's join");
  const info = await alice.xmpp.iqCaller.get(xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), room);
  const features = info.getChildren('feature').map((f) => String(f.attrs.var));
  t.ok(features.includes(MUC), 'the room advertises the muc feature (XEP-0045 §6.4)');
  t.ok(features.includes(MAM), 'the room advertises urn:xmpp:mam:2 (XEP-0313 §7)');
  t.ok(features.includes(SID), 'the room advertises urn:xmpp:sid:0 (XEP-0359 §6)');

  // Groupchat both ways: each message reaches both occupants once, with one stanza-id by the room.
  const sent = [
    { from: alice, nick: 'alice', id: `${tag}-g1`, body: 'one' },
    { from: bob, nick: 'bob', id: `${tag}-g2`, body: 'two' },
    { from: alice, nick: 'alice', id: `${tag}-g3`, body: 'three' },
  ];
  const liveIds: string[] = [];
  for (const m of sent) {
    await m.from.xmpp.send(xml('message', { to: room, type: 'groupchat', id: m.id }, xml('body', {}, m.body)));
    const copies: Element[] = [];
    for (const c of [alice, bob]) {
      copies.push(await c.waitFor((el) => el.name === 'message' && el.getChildText('body') === m.body, WAIT_MS, `"${m.body}"`));
    }
    const ids = copies.map((el) => stanzaIdBy(el, room));
    t.equal(ids[0], ids[1], `"${m.body}": both copies carry the same stanza-id by the room (XEP-0359 §4)`);
    t.ok(ids[0], `"${m.body}": the stanza-id is present`);
    t.same(
      copies.map((el) => el.attrs.from),
      [`${room}/${m.nick}`, `${room}/${m.nick}`],
      `"${m.body}" comes from room/${m.nick}`,
    );
    liveIds.push(ids[0] ?? '');
  }
  await new Promise((r) => setTimeout(r, 300));
  for (const c of [alice, bob]) {
    const bodies = c.received.filter((el) => el.name === 'message' && el.attrs.type === 'groupchat' && el.getChild('body'));
    t.same(
      bodies.map((el) => el.getChildText('body')),
      sent.map((m) => m.body),
      `${bareOf(c.jid)} got each groupchat message exactly once, in order (XEP-0045 §7.4)`,
    );
  }

  // A direct message for the personal archives.
  await alice.xmpp.send(xml('message', { to: bobBare, type: 'chat', id: `${tag}-chat` }, xml('body', {}, 'direct')));
  const direct = await bob.waitFor((el) => el.attrs.id === `${tag}-chat`, WAIT_MS, 'direct message');
  const directId = stanzaIdBy(direct, bobBare);
  t.ok(directId, "the direct message carries a stanza-id by bob's account (XEP-0313 §5.1)");

  const roomArchive = await mam(bob, room, 10);
  t.same(
    roomArchive.items.map((i) => i.message?.getChildText('body')),
    sent.map((m) => m.body),
    'the room archive holds the three messages in order (XEP-0313 §4.2)',
  );
  t.same(
    roomArchive.items.map((i) => i.id),
    liveIds,
    'room archive ids are the live stanza-ids (XEP-0313 §5.1)',
  );
  t.equal(roomArchive.fin?.attrs.complete, 'true', 'the room query is complete (XEP-0313 §4.3)');

  const bobArchive = await mam(bob, undefined, 10, true);
  const archivedDirect = bobArchive.items.find((i) => i.message?.attrs.id === `${tag}-chat`);
  t.ok(archivedDirect, "the direct message is in bob's archive");
  t.equal(archivedDirect?.id, directId, "bob's archive id is the live stanza-id (XEP-0313 §5.1)");
  t.equal(bareOf(archivedDirect?.message?.attrs.from), aliceBare, 'archived with its sender');
  const aliceArchive = await mam(alice, undefined, 10, true);
  t.ok(
    aliceArchive.items.some((i) => i.message?.attrs.id === `${tag}-chat`),
    "the sent message is in alice's archive too (XEP-0313 §5.1.1)",
  );
}

function mapUser(u: { local: string; password: string }): { username: string; password: string } {
  return { username: u.local, password: u.password };
}
