// A client that stops reading cannot make the server buffer without bound: once 16 MiB of output is
// queued for it, its stream is closed with <resource-constraint/>; the sender's session is unaffected.
import t from 'tap';
import { connectRaw } from '../helpers/raw-client.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';

t.test('output queued for a stalled reader is bounded', async (t) => {
  const dataDir = t.testdir();
  for (const u of ['alice', 'bob']) await addUser(dataDir, `${u}@localhost`, 'pw');
  const server = await startServerProcess({ dataDir, workers: 2 });
  t.teardown(() => server.stop());

  const alice = await connectRaw(server.c2sPort);
  await alice.login('alice', 'pw', 'a');
  const bob = await connectRaw(server.c2sPort);
  await bob.login('bob', 'pw', 'b');
  bob.socket.pause(); // bob stops reading; the kernel buffers fill, then the server's queue grows

  const body = 'x'.repeat(100 * 1024);
  const batch = 40; // 40 × 100 KB per write, 10 writes: 40 MB in all, well past the 16 MiB cap
  for (let round = 0; round < 10; round++) {
    let chunk = '';
    for (let i = 0; i < batch; i++) chunk += `<message to='bob@localhost/b' type='chat'><body>${body}</body></message>`;
    alice.send(chunk);
    await new Promise((r) => setTimeout(r, 50));
  }
  await server.waitForLog((l) => l.msg === 'stream error' && l.condition === 'resource-constraint', 30_000);
  t.pass('the server closed the stalled stream with resource-constraint');
  alice.send(`<iq type='get' id='still' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
  t.equal((await alice.waitFor((el) => el.attrs.id === 'still', 30_000)).attrs.type, 'result', 'the sender is unaffected');
  bob.socket.resume();
  await bob.closed;
  t.ok(bob.isClosed(), "the stalled client's connection is gone");
  alice.destroy();
});
