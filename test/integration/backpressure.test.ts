// A full ring pushes back on the sender instead of dropping: with the smallest rings the config
// allows, a flood of messages between users on different shards arrives complete and in order, and
// the backpressure shows up in /metrics.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Placement } from '../../src/shard/placement.ts';
import { connectRaw } from '../helpers/raw-client.ts';
import { addUser, startServerProcess } from '../helpers/server.ts';

const COUNT = 4000;

t.test('a flood through 64 KiB rings loses nothing', async (t) => {
  const placement = new Placement(2);
  const [a, b] = ['alice', 'bob', 'carol', 'dave'].reduce<string[]>((acc, n) => {
    if (acc.length === 0 || (acc.length === 1 && placement.shardOf(`${n}@localhost`) !== placement.shardOf(`${acc[0]}@localhost`)))
      acc.push(n);
    return acc;
  }, []) as [string, string];
  const dataDir = t.testdir();
  await addUser(dataDir, `${a}@localhost`, 'pw');
  await addUser(dataDir, `${b}@localhost`, 'pw');
  const config = join(dataDir, 'waddle.toml');
  writeFileSync(config, 'ring_bytes = 65536\n[c2s]\nmax_stanza_bytes = 10000\n');
  const server = await startServerProcess({ dataDir, workers: 2, configFile: config });
  t.teardown(() => server.stop());

  const sender = await connectRaw(server.c2sPort);
  await sender.login(a, 'pw', 'flood');
  const receiver = await connectRaw(server.c2sPort);
  await receiver.login(b, 'pw', 'sink');
  receiver.send('<presence/>');
  await new Promise((r) => setTimeout(r, 200));

  const filler = 'x'.repeat(900);
  const batch: string[] = [];
  for (let i = 0; i < COUNT; i++)
    batch.push(`<message to='${b}@localhost/sink' type='chat' id='m${i}'><body>${i} ${filler}</body></message>`);
  sender.send(batch.join(''));
  await receiver.waitFor((el) => el.attrs.id === `m${COUNT - 1}`, 60_000);
  const ids = receiver.elements.filter((el) => el.name === 'message').map((el) => el.attrs.id);
  t.equal(ids.length, COUNT, `all ${COUNT} messages delivered`);
  t.ok(
    ids.every((id, i) => id === `m${i}`),
    'in order',
  );
  const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  const events = [...metrics.matchAll(/^xmpp_mesh_backpressure_events_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  t.ok(events > 0, `rings filled and pushed back (${events} backpressure events)`);
  t.notOk(sender.isClosed() || receiver.isClosed(), 'both sessions still up');
  sender.destroy();
  receiver.destroy();
});
