// Both client TLS engines (`[tls] engine`, src/tls/engine.ts) behind the real server: STARTTLS and XEP-0368
// direct TLS logins, the channel bindings offered, and a message between a client on each port; the lean
// engine with and without the TLS 1.3 hand-off to its own record layer (`[tls] hand_off`).
import t from 'tap';
import { connectRaw } from '../helpers/raw-client.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';

const SASL_CB = 'urn:xmpp:sasl-cb:0';

const variants = [
  { engine: 'lean', handOff: true },
  { engine: 'lean', handOff: false },
  { engine: 'node', handOff: false },
] as const;

for (const { engine, handOff } of variants) {
  t.test(`[tls] engine = "${engine}"${engine === 'lean' ? `, hand_off = ${handOff}` : ''}`, async (t) => {
    const dataDir = t.testdir();
    await addUser(dataDir, 'alice@localhost', 'alice-pw');
    await addUser(dataDir, 'bob@localhost', 'bob-pw');
    const env = { WADDLE_TLS_ENGINE: engine, WADDLE_TLS_HAND_OFF: String(handOff) };
    const server = await startServerProcess({ dataDir, workers: 2, env });
    t.teardown(() => server.stop());
    const said = await server.waitForLog((l) => l.msg === 'client TLS engine');
    t.equal(said.tlsEngine, engine, 'the shard says which engine it runs');

    const alice = await connectRaw(server.c2sPort);
    t.teardown(() => alice.destroy());
    await alice.open();
    await alice.startTls();
    const features = await alice.open();
    const offered = features
      .getChild('sasl-channel-binding', SASL_CB)
      ?.getChildren('channel-binding')
      .map((c) => c.attrs.type);
    t.same(offered, ['tls-exporter', 'tls-server-end-point'], 'channel bindings offered over STARTTLS (TLS 1.3)');
    t.equal((await alice.authPlain('alice', 'alice-pw')).name, 'success');
    await alice.open();
    t.equal(await alice.bind('desk'), 'alice@localhost/desk');

    const bob = await connectRaw(server.tlsPort, { directTls: true });
    t.teardown(() => bob.destroy());
    t.equal(await bob.login('bob', 'bob-pw', 'phone'), 'bob@localhost/phone', 'direct TLS login');

    const body = `héllo 🐧 ${'x'.repeat(40_000)}`; // larger than one TLS record
    bob.send(`<message to='alice@localhost/desk' type='chat' id='m1'><body>${body}</body></message>`);
    const got = await alice.waitFor((el) => el.name === 'message' && el.attrs.id === 'm1');
    t.equal(got.getChildText('body'), body, 'a message from the direct-TLS port to the STARTTLS port, intact');

    // STARTTLS command injection: plaintext pipelined behind <starttls/> must be dropped, not read as if it
    // had come over TLS (here a valid PLAIN login, which would leave the new stream authenticated).
    const mallory = await connectRaw(server.c2sPort);
    t.teardown(() => mallory.destroy());
    await mallory.open();
    const plain = Buffer.from('\0alice\0alice-pw').toString('base64');
    await mallory.startTls(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`);
    const afterTls = await mallory.open();
    t.ok(afterTls.getChild('mechanisms', 'urn:ietf:params:xml:ns:xmpp-sasl'), 'the injected auth was ignored: SASL is offered');
    t.notOk(afterTls.getChild('bind', 'urn:ietf:params:xml:ns:xmpp-bind'), 'and no resource binding');
    t.notOk(
      mallory.elements.some((el) => el.name === 'success'),
      'no <success/> for the injected auth',
    );

    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    const handshakes = [...metrics.matchAll(new RegExp(`xmpp_tls_handshakes_total\\{engine="${engine}",result="ok"[^}]*\\} (\\d+)`, 'g'))];
    t.equal(
      handshakes.reduce((sum, m) => sum + Number(m[1]), 0),
      3,
      'every handshake counted, under this engine',
    );
    const handOffs = [...metrics.matchAll(/^xmpp_tls_hand_offs_total(?:\{[^}]*\})? (\d+)$/gm)];
    t.equal(
      handOffs.reduce((sum, m) => sum + Number(m[1]), 0),
      handOff ? 3 : 0,
      handOff ? 'every TLS 1.3 connection handed off' : 'none handed off',
    );
  });
}
