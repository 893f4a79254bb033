// XEP-0198 with xmpp.js (@xmpp/client has stream management built in): the test kills the TCP
// connection mid-conversation (no closing tag), the client reconnects and resumes, and every message
// arrives exactly once and in order.
import { xml, type XmppClient } from '@xmpp/client';
import t from 'tap';
import type { Element } from '../../src/xmpp/xml.ts';
import { connectRaw } from '../helpers/raw-client.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';
import { newXmppJs, startXmppJs } from '../helpers/xmpp-client.ts';

process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

t.test('xmpp.js resumes after an abrupt drop without losing or duplicating messages', async (t) => {
  const dataDir = t.testdir();
  for (const u of ['alice', 'bob']) await addUser(dataDir, `${u}@localhost`, 'pw');
  const server = await startServerProcess({ dataDir, workers: 2 });
  t.teardown(() => server.stop());

  const alice = newXmppJs({ port: server.c2sPort, username: 'alice', password: 'pw', resource: 'phone', reconnect: true });
  alice.reconnect.delay = 200;
  const bodies: string[] = [];
  alice.on('stanza', (el: Element) => {
    if (el.name === 'message' && el.getChildText('body')) bodies.push(String(el.getChildText('body')));
  });
  const online = new Promise<void>((resolve) => alice.once('online', () => resolve()));
  await startXmppJs(alice);
  await online;
  t.teardown(async () => {
    alice.reconnect.stop();
    await alice.stop().catch(() => {});
  });
  await alice.send(xml('presence'));
  const boundAs = String(alice.jid);
  const sm = (alice as unknown as { streamManagement: { enabled: boolean; id: string; on(e: string, f: () => void): void } })
    .streamManagement;
  await new Promise((r) => setTimeout(r, 300));
  t.ok(sm.enabled, 'xmpp.js enabled stream management');
  t.ok(sm.id, 'with a resumption id');

  const bob = await connectRaw(server.c2sPort);
  await bob.login('bob', 'pw', 'desk');
  const send = (n: number) => bob.send(`<message to='${boundAs}' type='chat' id='m${n}'><body>${n}</body></message>`);
  for (let n = 1; n <= 10; n++) send(n);
  await until(() => bodies.length >= 10);

  const resumed = new Promise<void>((resolve) => sm.on('resumed', () => resolve()));
  // Kill the TCP connection under the client: no </stream:stream>, no ack.
  killTcp(alice);
  for (let n = 11; n <= 20; n++) send(n);
  await resumed;
  t.pass('xmpp.js resumed the session');
  for (let n = 21; n <= 25; n++) send(n);
  await until(() => bodies.includes('25'));
  t.same(
    bodies,
    Array.from({ length: 25 }, (_, i) => String(i + 1)),
    'every message exactly once, in order',
  );
  t.equal(String(alice.jid), boundAs, 'same full JID after resumption');
  bob.destroy();
});

/** Destroys the real socket under xmpp.js's wrappers (the TLS wrapper holds it in `.socket`). */
function killTcp(x: XmppClient): void {
  let s = x.socket as unknown as { destroy?: () => void; socket?: unknown } | null;
  while (s && typeof s.destroy !== 'function') s = s.socket as typeof s;
  if (!s?.destroy) throw new Error('no socket to destroy');
  s.destroy();
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
