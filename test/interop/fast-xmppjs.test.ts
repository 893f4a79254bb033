// XEP-0388 SASL2 + XEP-0484 FAST with xmpp.js: a password login asks for a token; the next login of the
// same client uses the token (HT-SHA-256-NONE) instead of the password; a wrong token falls back.
import { xml } from '@xmpp/client';
import t from 'tap';
import { addUser, startServerProcess } from '../helpers/server.ts';
import { newXmppJs, startXmppJs } from '../helpers/xmpp-client.ts';

process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

async function authCount(httpPort: number, mechanism: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const re = new RegExp(`^xmpp_sasl_auth_total\\{[^}]*mechanism="${mechanism}"[^}]*result="success"[^}]*\\} (\\d+)`, 'gm');
  return [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
}

t.test('FAST token login after a password login', async (t) => {
  const dataDir = t.testdir();
  await addUser(dataDir, 'alice@localhost', 'pw');
  const server = await startServerProcess({ dataDir, workers: 2 });
  t.teardown(() => server.stop());

  const alice = newXmppJs({ port: server.c2sPort, username: 'alice', password: 'pw', resource: 'phone' });
  type Token = { token: string; mechanism: string; expiry: string };
  const fast = (alice as unknown as { fast: { fetch(): Promise<Token | undefined>; save(t: Token): Promise<void> } }).fast;

  await startXmppJs(alice);
  const token = await fast.fetch();
  t.ok(token?.token, 'the password login returned a FAST token');
  t.equal(token?.mechanism, 'HT-SHA-256-NONE', 'bound to the HT mechanism xmpp.js chose');
  t.ok(token && new Date(token.expiry).getTime() > Date.now(), 'with an expiry in the future');
  t.equal(await authCount(server.httpPort, 'SCRAM-SHA-1'), 1, 'first login used the password (SCRAM)');
  const first = String(alice.jid);
  await alice.stop();

  await startXmppJs(alice);
  t.equal(await authCount(server.httpPort, 'HT-SHA-256-NONE'), 1, 'second login used the token');
  t.equal(await authCount(server.httpPort, 'SCRAM-SHA-1'), 1, 'and not the password');
  t.equal(String(alice.jid), first, 'Bind2 gave the same device the same resource');
  const pong = await alice.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
  t.equal(pong.attrs.type, 'result', 'the session works');
  await alice.stop();

  // A token the server does not know fails with not-authorized; xmpp.js then logs in with the password
  // and asks for a new token. (A new client instance: xmpp.js caches the token it started with.)
  const again = newXmppJs({ port: server.c2sPort, username: 'alice', password: 'pw', resource: 'phone' });
  const againFast = (again as unknown as { fast: typeof fast }).fast;
  await againFast.save({ ...(token as Token), token: 'secret-token:fast-forged' });
  await startXmppJs(again);
  t.equal(await authCount(server.httpPort, 'SCRAM-SHA-1'), 2, 'a forged token is refused and the password is used');
  const fresh = await againFast.fetch();
  t.ok(fresh?.token && fresh.token !== 'secret-token:fast-forged' && fresh.token !== token?.token, 'and a fresh token is issued');
  await again.stop();
});
