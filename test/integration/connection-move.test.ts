// A bound connection accepted by a shard other than its session's home moves there (c2s.move_to_home,
// src/stream/connection-move.ts), over STARTTLS, direct TLS and plain TCP, with input pipelined behind the
// bind request and a stanza split around the move; nothing is lost, duplicated or reordered.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ScramClient } from '../../bench/loadgen/scram-client.ts';
import { connectRaw, type RawClient } from '../helpers/raw-client.ts';
import { addUser, type ServerProcess, startServerProcess } from '../helpers/server.ts';

const USERS = 12;
const TRANSPORTS = ['starttls', 'direct', 'plain'] as const;
const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

/** SCRAM-SHA-256 (RFC 6120 SASL): PLAIN is not offered without TLS. */
async function authScram(c: RawClient, user: string, password: string) {
  const scram = new ScramClient('SHA-256', user, password, new Map());
  c.elements.length = 0;
  c.send(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-256'>${Buffer.from(scram.clientFirst()).toString('base64')}</auth>`);
  const challenge = await c.waitFor((el) => el.name === 'challenge' || el.name === 'failure');
  if (challenge.name === 'failure') return challenge;
  const final = scram.clientFinal(Buffer.from(challenge.text(), 'base64').toString());
  c.send(`<response xmlns='${SASL}'>${Buffer.from(final).toString('base64')}</response>`);
  return c.waitFor((el) => el.name === 'success' || el.name === 'failure');
}

async function loginPipelined(server: ServerProcess, i: number): Promise<RawClient> {
  const transport = TRANSPORTS[i % TRANSPORTS.length];
  const c = await connectRaw(transport === 'direct' ? server.tlsPort : server.c2sPort, { directTls: transport === 'direct' });
  await c.open();
  if (transport === 'starttls') {
    await c.startTls();
    await c.open();
  }
  const auth = transport === 'plain' ? await authScram(c, `u${i}`, `pw${i}`) : await c.authPlain(`u${i}`, `pw${i}`);
  if (auth.name !== 'success') throw new Error(`u${i}: ${auth}`);
  await c.open();
  // The bind request with a message right behind it, and the first half of another: the connection may
  // move only between two stanzas, so it waits for the rest.
  const next = Math.max(i - 1, 0); // bound already (u0 writes to itself)
  c.send(
    `<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>` +
      `<message to='u${next}@localhost/r' id='pipelined-${i}' type='chat'><body>pipelined</body></message>` +
      `<message to='u${next}@localhost/r' id='split-${i}' type='chat'><body>sp`,
  );
  await c.waitFor((el) => el.name === 'iq' && el.attrs.id === 'b');
  await new Promise((r) => setTimeout(r, 100));
  c.send(`lit 🐧</body></message>`);
  return c;
}

async function movesCounted(server: ServerProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/xmpp_c2s_moves_total\{result="(\w+)"[^}]*\} (\d+)/g)) {
    counts[m[1] as string] = (counts[m[1] as string] ?? 0) + Number(m[2]);
  }
  return counts;
}

t.test('bound connections move to their home shard and keep every stanza in order', async (t) => {
  const dataDir = t.testdir();
  for (let i = 0; i < USERS; i++) await addUser(dataDir, `u${i}@localhost`, `pw${i}`);
  const configFile = join(dataDir, 'waddle.toml');
  writeFileSync(configFile, '[c2s]\nrequire_tls = false\n');
  const server = await startServerProcess({ dataDir, workers: 2, configFile });
  t.teardown(() => server.stop());

  const clients: RawClient[] = [];
  for (let i = 0; i < USERS; i++) clients.push(await loginPipelined(server, i));
  t.teardown(() => {
    for (const c of clients) c.destroy();
  });
  const bound = server.logs.filter((l) => l.msg === 'session bound');
  const remote = bound.filter((l) => l.home !== l.shard).length;
  t.equal(bound.length, USERS, 'every client bound');

  for (let i = 0; i < USERS; i++) {
    const c = clients[Math.max(i - 1, 0)] as RawClient;
    const first = await c.waitFor((el) => el.name === 'message' && el.attrs.id === `pipelined-${i}`);
    t.equal(first.getChildText('body'), 'pipelined', `u${i}: the message pipelined behind bind arrived`);
    const split = await c.waitFor((el) => el.name === 'message' && el.attrs.id === `split-${i}`);
    t.equal(split.getChildText('body'), 'split 🐧', `u${i}: the stanza split around the move arrived whole`);
  }

  // Everyone to everyone, 5 each, both directions across whichever shards: exactly once and in order.
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < USERS; i++) {
      for (let j = 0; j < USERS; j++) {
        if (i !== j)
          (clients[i] as RawClient).send(
            `<message to='u${j}@localhost/r' id='m-${i}-${round}' type='chat'><body>${round}</body></message>`,
          );
      }
    }
  }
  const isChat = (el: { name: string; attrs: Record<string, unknown> }) => el.name === 'message' && String(el.attrs.id).startsWith('m-');
  for (let j = 0; j < USERS; j++) {
    const c = clients[j] as RawClient;
    await c.waitFor(() => c.elements.filter(isChat).length >= 5 * (USERS - 1), 15_000);
    for (let i = 0; i < USERS; i++) {
      if (i === j) continue;
      const ids = c.elements.filter((el) => isChat(el) && String(el.attrs.id).startsWith(`m-${i}-`)).map((el) => el.attrs.id);
      t.same(
        ids,
        [0, 1, 2, 3, 4].map((r) => `m-${i}-${r}`),
        `u${j} got u${i}'s messages once each, in order`,
      );
    }
  }

  const counts = await movesCounted(server);
  t.equal(counts.moved ?? 0, remote, `every connection bound away from its home moved (${remote} of ${USERS})`);
  t.equal(counts.aborted ?? 0, 0, 'no move was aborted');
  t.equal(counts.refused ?? 0, 0, 'no move was refused');

  // A moved connection still closes like any other: the session ends and the server says so.
  const last = clients[USERS - 1] as RawClient;
  last.send('</stream:stream>');
  await server.waitForLog((l) => l.msg === 'session unbound' && l.jid === `u${USERS - 1}@localhost/r`);
});

t.test('c2s.move_to_home = false keeps connections where they were accepted', async (t) => {
  const dataDir = t.testdir();
  for (let i = 0; i < 6; i++) await addUser(dataDir, `u${i}@localhost`, `pw${i}`);
  const server = await startServerProcess({ dataDir, workers: 2, env: { WADDLE_C2S_MOVE_TO_HOME: 'false' } });
  t.teardown(() => server.stop());
  const clients: RawClient[] = [];
  t.teardown(() => {
    for (const c of clients) c.destroy();
  });
  for (let i = 0; i < 6; i++) {
    const c = await connectRaw(server.c2sPort);
    clients.push(c);
    await c.login(`u${i}`, `pw${i}`, 'r');
  }
  (clients[0] as RawClient).send(`<message to='u5@localhost/r' id='x' type='chat'><body>hi</body></message>`);
  await (clients[5] as RawClient).waitFor((el) => el.attrs.id === 'x');
  const counts = await movesCounted(server);
  t.same(counts, {}, 'no moves counted');
});

/** A 2-worker server with accounts alice and bob (password 'pw'), bob online as bob@localhost/b. */
async function serverWithBob(t: Test): Promise<{ server: ServerProcess; bob: RawClient }> {
  const dataDir = t.testdir();
  for (const u of ['alice', 'bob']) await addUser(dataDir, `${u}@localhost`, 'pw');
  const server = await startServerProcess({ dataDir, workers: 2 });
  t.teardown(() => server.stop());
  const bob = await connectRaw(server.c2sPort);
  t.teardown(() => bob.destroy());
  await bob.login('bob', 'pw', 'b');
  return { server, bob };
}

/** Logs in with `login` until the kernel gives the connection to a shard other than its home, so it moves. */
async function loginUntilMoved(
  server: ServerProcess,
  login: (attempt: number) => Promise<{ c: RawClient; jid: string }>,
): Promise<{ c: RawClient; jid: string }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const got = await login(attempt);
    const bound = await server.waitForLog((l) => l.msg === 'session bound' && l.jid === got.jid);
    if (bound.shard !== bound.home) return got;
    got.c.destroy();
  }
  throw new Error('no login landed away from its home in 20 tries');
}

t.test('a moved session drops and resumes (XEP-0198) with every message once, in order', async (t) => {
  const SM = 'urn:xmpp:sm:3';
  const { server, bob } = await serverWithBob(t);

  const { c: alice, jid } = await loginUntilMoved(server, async (k) => {
    const c = await connectRaw(server.c2sPort);
    return { c, jid: await c.login('alice', 'pw', `r${k}`) };
  });
  const resource = jid.slice(jid.indexOf('/') + 1);
  const moved = alice;
  moved.send(`<enable xmlns='${SM}' resume='true'/>`);
  const enabled = await moved.waitFor((el) => el.name === 'enabled' || el.name === 'failed');
  t.equal(enabled.name, 'enabled', 'stream management enabled on the moved connection');

  const send = (n: number) => bob.send(`<message to='alice@localhost/${resource}' type='chat' id='s${n}'><body>${n}</body></message>`);
  for (let i = 1; i <= 4; i++) send(i);
  await moved.waitFor((el) => el.attrs.id === 's4');
  moved.send(`<a xmlns='${SM}' h='2'/>`); // s1 and s2 handled; s3 and s4 stay unacknowledged
  await new Promise((r) => setTimeout(r, 100));
  moved.destroy();
  await new Promise((r) => setTimeout(r, 300));
  send(5);

  const again = await connectRaw(server.tlsPort, { directTls: true });
  t.teardown(() => again.destroy());
  await again.open();
  t.equal((await again.authPlain('alice', 'pw')).name, 'success');
  await again.open();
  again.send(`<resume xmlns='${SM}' previd='${String(enabled.attrs.id)}' h='2'/>`);
  t.equal((await again.waitFor((el) => el.name === 'resumed' || el.name === 'failed')).name, 'resumed', 'resumed');
  await again.waitFor((el) => el.attrs.id === 's5');
  t.same(
    again.elements.filter((el) => el.name === 'message').map((el) => el.attrs.id),
    ['s3', 's4', 's5'],
    'the unacknowledged messages and the one sent while away, once each, in order',
  );
  again.send(`<message to='bob@localhost/b' type='chat' id='back'><body>back</body></message>`);
  await bob.waitFor((el) => el.attrs.id === 'back');
  t.pass('the resumed session sends');
  const counts = await movesCounted(server);
  t.ok((counts.moved ?? 0) >= 1, 'the first connection moved');
  t.equal(counts.aborted ?? 0, 0, 'no move was aborted');
});

t.test('SASL2 with Bind2: the connection moves after the inline bind', async (t) => {
  const SASL2 = 'urn:xmpp:sasl:2';
  const { server, bob } = await serverWithBob(t);

  const { c: alice, jid: full } = await loginUntilMoved(server, async (k) => {
    const c = await connectRaw(server.tlsPort, { directTls: true });
    await c.open();
    const scram = new ScramClient('SHA-256', 'alice', 'pw', new Map());
    c.send(
      `<authenticate xmlns='${SASL2}' mechanism='SCRAM-SHA-256'><initial-response>${Buffer.from(scram.clientFirst()).toString('base64')}</initial-response>` +
        `<user-agent id='00000000-0000-4000-8000-${String(k).padStart(12, '0')}'><software>test</software></user-agent>` +
        `<bind xmlns='urn:xmpp:bind:0'><tag>move</tag></bind></authenticate>`,
    );
    const challenge = await c.waitFor((el) => el.name === 'challenge' || el.name === 'failure');
    if (challenge.name !== 'challenge') throw new Error(String(challenge));
    const final = scram.clientFinal(Buffer.from(challenge.text(), 'base64').toString());
    c.send(`<response xmlns='${SASL2}'>${Buffer.from(final).toString('base64')}</response>`);
    const success = await c.waitFor((el) => el.name === 'success' || el.name === 'failure');
    if (success.name !== 'success') throw new Error(String(success));
    // Sent at once: it reaches the edge while the connection may be offering itself to its home.
    c.send(`<message to='bob@localhost/b' type='chat' id='early-${k}'><body>early</body></message>`);
    await bob.waitFor((el) => el.attrs.id === `early-${k}`);
    return { c, jid: success.getChildText('authorization-identifier') ?? '' };
  });
  const moved = alice;
  t.teardown(() => moved.destroy());
  t.pass('a message sent right after <success/> reached its recipient');
  for (let i = 1; i <= 3; i++) {
    bob.send(`<message to='${full}' type='chat' id='to-alice-${i}'><body>${i}</body></message>`);
    moved.send(`<message to='bob@localhost/b' type='chat' id='to-bob-${i}'><body>${i}</body></message>`);
  }
  await moved.waitFor((el) => el.attrs.id === 'to-alice-3');
  await bob.waitFor((el) => el.attrs.id === 'to-bob-3');
  t.same(
    moved.elements.filter((el) => el.name === 'message').map((el) => el.attrs.id),
    ['to-alice-1', 'to-alice-2', 'to-alice-3'],
    'the moved SASL2 session receives in order',
  );
  t.ok(((await movesCounted(server)).moved ?? 0) >= 1, 'counted as moved');
});
