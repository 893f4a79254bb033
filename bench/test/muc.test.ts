// Unit tests of the `muc` scenario's pure helpers: room plans and thread shares, and the generator's
// text scanning (join outcome, iq outcome, body stamps, message scanning across chunk boundaries).
// Run: PATH=node_modules/.bin:$PATH npx tap bench/test/muc.test.ts
import t from 'tap';
import {
  instantRoomIq,
  iqOutcome,
  joinOutcome,
  joinPresence,
  noLoggingRoomIq,
  readStamp,
  type Stamp,
  scanMessages,
  unconsumedTail,
} from '../loadgen/muc-stanzas.ts';
import type { ClientParams } from '../loadgen/protocol.ts';
import { fanoutOf, type MucOptions, mucShares, mucUsers, roomsOf, validateMuc } from '../scenarios/muc.ts';

const ROOM = 'room0@conference.localhost';
const opts: MucOptions = { rooms: 5, occupants: 4, senders: 2, window: 3, rate: 0, bodyBytes: 10 };
const client: ClientParams = {
  transport: 'plain',
  mechanism: 'SCRAM-SHA-256',
  password: 'p',
  localAddresses: ['127.0.0.1'],
  timeoutMs: 1000,
};

t.test('roomsOf gives each user exactly one room; the first occupants send', async (t) => {
  const rooms = roomsOf(opts, 'localhost');
  t.equal(rooms.length, 5);
  t.equal(mucUsers(opts), 20);
  t.same(
    rooms.flatMap((r) => r.occupants).sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i),
  );
  t.same(rooms[1], { jid: 'room1@conference.localhost', occupants: [4, 5, 6, 7], senders: [4, 5] });
  t.equal(fanoutOf(opts), 4, 'a message reaches every occupant, the sender included');
  t.throws(() => validateMuc({ ...opts, senders: 5 }), /cannot exceed/);
});

t.test('mucShares keeps rooms whole per thread and splits the rate by senders', async (t) => {
  const shares = mucShares({ ...opts, rate: 1000 }, client, 2, 'localhost');
  t.equal(shares.length, 2);
  t.same(
    shares.map((s) => s.rooms.map((r) => r.jid)),
    [
      ['room0@conference.localhost', 'room2@conference.localhost', 'room4@conference.localhost'],
      ['room1@conference.localhost', 'room3@conference.localhost'],
    ],
  );
  t.equal(shares[0]?.ratePerSec, 600, '3 rooms of 5 → 6 of 10 senders');
  t.equal(shares[1]?.ratePerSec, 400);
  t.equal(mucShares(opts, client, 2, 'localhost')[0]?.ratePerSec, 0, 'closed loop');
  t.equal(mucShares({ ...opts, rooms: 1 }, client, 4, 'localhost').length, 1, 'never more threads than rooms');
  t.same(
    mucShares(opts, client, 2, 'localhost', 'no-logging').map((s) => s.roomConfig),
    ['no-logging', 'no-logging'],
  );
  t.equal(shares[0]?.roomConfig, 'instant', 'the instant room by default');
});

t.test('join and instant-room stanzas', async (t) => {
  t.equal(
    joinPresence(ROOM, 'u3'),
    `<presence to='${ROOM}/u3'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`,
  );
  t.match(
    instantRoomIq(ROOM, 'i1'),
    /^<iq type='set' to='room0@conference.localhost' id='i1'><query xmlns='http:\/\/jabber.org\/protocol\/muc#owner'><x xmlns='jabber:x:data' type='submit'\/><\/query><\/iq>$/,
  );
});

t.test('the no-logging configuration form', async (t) => {
  t.equal(
    noLoggingRoomIq(ROOM, 'c1'),
    `<iq type='set' to='${ROOM}' id='c1'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>` +
      `<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>` +
      `<field var='muc#roomconfig_enablelogging'><value>0</value></field></x></query></iq>`,
  );
});

t.test('joinOutcome finds the self-presence among other occupants', async (t) => {
  const other = `<presence from='${ROOM}/u1' to='u2@localhost/muc'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator'/></x></presence>`;
  const self = `<presence from='${ROOM}/u2' to='u2@localhost/muc'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/><status code='110'/></x></presence>`;
  t.same(joinOutcome('', ROOM), { kind: 'pending' });
  t.same(joinOutcome(other, ROOM), { kind: 'pending' }, "another occupant's presence is not ours");
  t.same(joinOutcome(other + self.slice(0, 60), ROOM), { kind: 'pending' }, 'an unfinished presence waits');
  t.same(joinOutcome(`<presence/>${other}${self}`, ROOM), { kind: 'joined', created: false });
  const created = `<presence from="${ROOM}/u0" to="u0@localhost/muc"><x xmlns="http://jabber.org/protocol/muc#user"><status code="201"/><item affiliation="owner" role="moderator"/><status code="110"/></x></presence>`;
  t.same(joinOutcome(created, ROOM), { kind: 'joined', created: true }, 'double quotes; 201 = new room');
  t.same(
    joinOutcome(`<presence from='room01@conference.localhost/u2'><status code='110'/></presence>`, ROOM),
    { kind: 'pending' },
    'another room with a longer name',
  );
  const error = `<presence from='${ROOM}/u0' type='error'><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`;
  const r = joinOutcome(error, ROOM);
  t.equal(r.kind, 'error');
  t.match(r.kind === 'error' ? r.stanza : '', /not-allowed/, 'the error stanza is kept for the report');
});

t.test('iqOutcome', async (t) => {
  t.equal(iqOutcome(`<iq type='result' id='other'/>`, 'i1'), 'pending');
  t.equal(iqOutcome(`<iq from='${ROOM}' type='result' id='i1'/>`, 'i1'), 'result');
  t.equal(iqOutcome(`<iq type="result" id="i1" from="${ROOM}"></iq>`, 'i1'), 'result');
  t.equal(iqOutcome(`<iq type='error' id='i1'><error type='auth'>`, 'i1'), 'pending', 'an unfinished error waits');
  t.same(iqOutcome(`<iq type='error' id='i1'><error type='auth'><forbidden/></error></iq>`, 'i1'), {
    error: `<iq type='error' id='i1'><error type='auth'><forbidden/></error></iq>`,
  });
});

t.test('readStamp reads sender.seq.µs and nothing else', async (t) => {
  const out: Stamp = { sender: -1, seq: -1, us: -1 };
  t.ok(readStamp('12.345.9876543210 xxx', 0, out));
  t.same(out, { sender: 12, seq: 345, us: 9876543210 });
  t.ok(readStamp('<body>1.2.3</body>', 6, out));
  t.same(out, { sender: 1, seq: 2, us: 3 });
  for (const bad of ['hello', '1.2', '1..3', '.1.2', '1.2.', '1.2.3.4', ''])
    t.notOk(readStamp(bad, 0, { sender: 0, seq: 0, us: 0 }), `'${bad}' is not a stamp`);
});

t.test('scanMessages visits stamped messages, flags bounces, and resumes across chunks', async (t) => {
  const msg = (from: string, body: string, type = 'groupchat') =>
    `<message from='${from}' to='u1@localhost/muc' type='${type}' id='x'><body>${body}</body></message>`;
  const stream =
    `<presence from='${ROOM}/u9'/>` +
    msg(`${ROOM}/u0`, '0.1.1000 xxxxx') +
    `<message from='${ROOM}' type='groupchat'><subject/></message>` +
    msg(`${ROOM}/u0`, '0.2.2000 xxxxx') +
    msg(ROOM, '1.7.3000 xxxxx', 'error') +
    msg(`${ROOM}/u0`, 'hello, not ours');
  const expected = [
    [0, 1, 1000, false],
    [0, 2, 2000, false],
    [1, 7, 3000, true],
  ];
  // Every split point: what one call leaves is fed again with the next chunk, as the driver does.
  for (let cut = 0; cut <= stream.length; cut += 7) {
    const seen: (number | boolean)[][] = [];
    const out: Stamp = { sender: 0, seq: 0, us: 0 };
    const visit = (s: Stamp, error: boolean) => seen.push([s.sender, s.seq, s.us, error]);
    const first = stream.slice(0, cut);
    const tail = unconsumedTail(first, scanMessages(first, 0, out, visit));
    const second = tail + stream.slice(cut);
    const rest = unconsumedTail(second, scanMessages(second, 0, out, visit));
    t.same(seen, expected, `split at ${cut}`);
    t.ok(rest.length <= '<message'.length, 'nothing but a possible tag start is kept');
  }
});

t.test('unconsumedTail keeps an unfinished message and drops finished presence', async (t) => {
  t.equal(unconsumedTail(`<presence from='a'/><presence from='b'/>`, 0), `from='b'/>`.slice(-8));
  t.equal(unconsumedTail(`<presence/><message from='a'><bo`, 0), `<message from='a'><bo`);
  t.equal(unconsumedTail('abc</message><mes', 13), '<mes');
});
