// MucDriver against a tiny fake XMPP/MUC server on loopback: log-in, join with instant-room
// configuration, closed-loop window, fan-out accounting, bounces, losses and a refused room creation.
// The fake speaks just enough (plain stream, SASL PLAIN, bind, XEP-0045 join/owner/groupchat) and
// matches stanzas with regular expressions; it is a test double, not an XMPP implementation.
// Run: PATH=node_modules/.bin:$PATH npx tap bench/test/muc-driver.test.ts
import net from 'node:net';
import t, { type Test } from 'tap';
import { MucDriver } from '../loadgen/muc-driver.ts';
import type { MucParams } from '../loadgen/protocol.ts';
import { roomsOf } from '../scenarios/muc.ts';

interface FakeOptions {
  /** Answer the creator's join with an error presence (creation not allowed). */
  refuseCreate?: boolean;
  /** Never deliver seq 0 of any sender to the last occupant of its room. */
  dropSeq0?: boolean;
  /** Bounce seq 1 of every sender (type='error', original body included) instead of broadcasting it. */
  bounceSeq1?: boolean;
  /** Queue every broadcast until release(). */
  hold?: boolean;
}

interface FakeRoom {
  locked: boolean;
  occupants: Map<string, net.Socket>;
}

const STANZA =
  /<\?xml[^>]*\?>|<stream:stream[^>]*>|<\/stream:stream>|<auth[^>]*>[^<]*<\/auth>|<iq[\s\S]*?<\/iq>|<presence[^>]*\/>|<presence[\s\S]*?<\/presence>|<message[\s\S]*?<\/message>/y;

class FakeMuc {
  readonly server: net.Server;
  readonly rooms = new Map<string, FakeRoom>();
  readonly received: string[] = [];
  /** The muc#owner forms submitted, as received. */
  readonly forms: string[] = [];
  readonly held: (() => void)[] = [];
  readonly o: FakeOptions;
  port = 0;

  constructor(o: FakeOptions) {
    this.o = o;
    this.server = net.createServer((s) => this.#serve(s));
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  release(): void {
    this.o.hold = false;
    for (const f of this.held.splice(0)) f();
  }

  #serve(s: net.Socket): void {
    let buf = '';
    let user = '';
    s.on('error', () => {});
    s.on('data', (d) => {
      buf += d.toString();
      STANZA.lastIndex = 0;
      let m: RegExpExecArray | null;
      let used = 0;
      for (;;) {
        STANZA.lastIndex = used;
        m = STANZA.exec(buf);
        if (!m) break;
        used = STANZA.lastIndex;
        const x = m[0];
        if (x.startsWith('<stream:stream'))
          s.write(
            `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='s' version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
          );
        else if (x.startsWith('<auth')) {
          user =
            Buffer.from(/>([^<]*)</.exec(x)?.[1] ?? '', 'base64')
              .toString()
              .split('\0')[1] ?? '';
          s.write(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`);
        } else if (x.includes("id='bind1'"))
          s.write(
            `<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>${user}@localhost/muc</jid></bind></iq>`,
          );
        else if (x.startsWith('<presence to=')) this.#join(s, x);
        else if (x.includes('muc#owner')) this.#configure(s, x);
        else if (x.startsWith('<message')) this.#groupchat(s, x);
        else if (x === '</stream:stream>') s.end('</stream:stream>');
      }
      buf = buf.slice(used);
    });
  }

  #join(s: net.Socket, x: string): void {
    const [, room = '', nick = ''] = /to='([^/]+)\/([^']+)'/.exec(x) ?? [];
    let r = this.rooms.get(room);
    const self = (codes: string) =>
      `<presence from='${room}/${nick}'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/>${codes}</x></presence>`;
    if (!r) {
      if (this.o.refuseCreate) {
        s.write(
          `<presence from='${room}/${nick}' type='error'><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`,
        );
        return;
      }
      r = { locked: true, occupants: new Map([[nick, s]]) };
      this.rooms.set(room, r);
      s.write(self(`<status code='201'/><status code='110'/>`));
      return;
    }
    if (r.locked) {
      s.write(`<presence from='${room}/${nick}' type='error'><error type='cancel'><item-not-found/></error></presence>`);
      return;
    }
    for (const [other, os] of r.occupants) {
      os.write(`<presence from='${room}/${nick}'><x xmlns='http://jabber.org/protocol/muc#user'/></presence>`);
      s.write(`<presence from='${room}/${other}'><x xmlns='http://jabber.org/protocol/muc#user'/></presence>`);
    }
    r.occupants.set(nick, s);
    s.write(`<message from='${room}' type='groupchat'><subject/></message>`);
    s.write(self(`<status code='110'/>`));
  }

  #configure(s: net.Socket, x: string): void {
    const room = /to='([^']+)'/.exec(x)?.[1] ?? '';
    const id = /id='([^']+)'/.exec(x)?.[1] ?? '';
    const r = this.rooms.get(room);
    this.forms.push(/<x xmlns='jabber:x:data'[\s\S]*?(?:\/>|<\/x>)/.exec(x)?.[0] ?? '');
    if (r) r.locked = false;
    s.write(`<iq from='${room}' type='result' id='${id}'/>`);
  }

  #groupchat(s: net.Socket, x: string): void {
    this.received.push(x);
    const room = /to='([^']+)'/.exec(x)?.[1] ?? '';
    const body = /<body>([^<]*)<\/body>/.exec(x)?.[1] ?? '';
    const [sender, seq] = body.split('.');
    const r = this.rooms.get(room);
    if (!r) return;
    if (this.o.bounceSeq1 && seq === '1') {
      s.write(`<message from='${room}' type='error'><body>${body}</body><error type='modify'><not-acceptable/></error></message>`);
      return;
    }
    const send = () => {
      const all = [...r.occupants];
      all.forEach(([, os], i) => {
        if (this.o.dropSeq0 && seq === '0' && i === all.length - 1) return;
        os.write(`<message from='${room}/u${sender}' type='groupchat'><body>${body}</body></message>`);
      });
    };
    if (this.o.hold) this.held.push(send);
    else send();
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function withDriver(t: Test, o: FakeOptions, window = 2, roomConfig: MucParams['roomConfig'] = 'instant') {
  const fake = new FakeMuc(o);
  await fake.listen();
  const params: MucParams = {
    scenario: 'muc',
    transport: 'plain',
    mechanism: 'PLAIN',
    password: 'pw',
    localAddresses: ['127.0.0.1'],
    timeoutMs: 5000,
    rooms: roomsOf({ rooms: 2, occupants: 3, senders: 2, window, rate: 0, bodyBytes: 8 }, 'localhost'),
    roomConfig,
    window,
    ratePerSec: 0,
    maxOutstanding: 64,
    bodyBytes: 8,
    connectConcurrency: 4,
  };
  const driver = new MucDriver({ host: '127.0.0.1', port: fake.port, tlsPort: 0, domain: 'localhost' }, params);
  t.teardown(async () => {
    await driver.close();
    await fake.close();
  });
  return { fake, driver };
}

t.test('joins, configures new rooms, and counts every delivery of the fan-out', async (t) => {
  const { fake, driver } = await withDriver(t, {});
  const ready = await driver.setup();
  t.same(ready, { connections: 6, failed: 0, firstError: null });
  t.same(
    [...fake.rooms.values()].map((r) => [r.locked, r.occupants.size]),
    [
      [false, 3],
      [false, 3],
    ],
    'both rooms unlocked by the instant-room form, every occupant inside',
  );
  t.same(fake.forms, [`<x xmlns='jabber:x:data' type='submit'/>`, `<x xmlns='jabber:x:data' type='submit'/>`], 'empty forms (§10.1.2)');
  driver.mark();
  driver.go();
  while (fake.received.length < 200) await sleep(10);
  const report = await driver.stop(5000);
  t.equal(report.errors, 0);
  t.equal(report.lost, 0, 'every delivery of every message arrived');
  t.ok(report.attempts >= 200);
  t.ok(report.ops > 0 && report.ops <= report.attempts * 3, 'deliveries counted while measuring, at most M per message');
  t.equal(report.latency.count, report.ops, 'one latency sample per delivery');
  t.equal(report.disconnects, 0);
});

t.test('closed loop: a sender never has more than `window` messages awaiting their reflection', async (t) => {
  const { fake, driver } = await withDriver(t, { hold: true }, 3);
  await driver.setup();
  driver.go();
  while (fake.received.length < 4 * 3) await sleep(10);
  await sleep(100);
  t.equal(fake.received.length, 4 * 3, '4 senders × window 3, then nothing until reflections come');
  fake.release();
  while (fake.received.length < 40) await sleep(10);
  const report = await driver.stop(5000);
  t.equal(report.lost, 0);
});

t.test('bounces are errors and free the window; missing deliveries are lost', async (t) => {
  const { driver } = await withDriver(t, { bounceSeq1: true, dropSeq0: true }, 1);
  await driver.setup();
  driver.mark();
  driver.go();
  await sleep(300);
  const report = await driver.stop(2000);
  t.equal(report.errors, 4, "each sender's seq 1 bounced once");
  t.ok(report.attempts > 8, 'the loop went on after the bounces');
  t.equal(report.lost, 4, "seq 0 of each sender never reached its room's last occupant");
  t.match(report.firstError, /bounced: u\d+ seq 1/);
});

t.test('a refused room creation fails the set-up with the server error', async (t) => {
  const { driver } = await withDriver(t, { refuseCreate: true });
  await t.rejects(driver.setup(), /refused u0's join of room0@conference\.localhost \(creating the room\): .*not-allowed/);
});

t.test("roomConfig 'no-logging' unlocks new rooms with a form that turns logging off", async (t) => {
  const { fake, driver } = await withDriver(t, {}, 1, 'no-logging');
  await driver.setup();
  t.equal(fake.forms.length, 2, 'one form per created room');
  for (const f of fake.forms) {
    t.match(f, /<field var='FORM_TYPE'><value>http:\/\/jabber.org\/protocol\/muc#roomconfig<\/value><\/field>/);
    t.match(f, /<field var='muc#roomconfig_enablelogging'><value>0<\/value><\/field>/);
  }
  t.same(
    [...fake.rooms.values()].map((r) => r.locked),
    [false, false],
  );
});
