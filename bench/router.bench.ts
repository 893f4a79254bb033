// Micro benchmark: the routing path in one thread, without sockets, TLS or parsing. Real ShardRuntimes with
// every module (archiving off, as in the throughput scenarios), in-memory user stores and the loopback mesh
// (test/helpers/test-shard.ts); connections are counters. Measures, in µs of CPU per message
// (process.cpuUsage, user + system; median of alternating rounds):
//   - lookups: parseJid of a known JID, placement of a bare JID, a session by bare JID and resource;
//   - route, 1 shard: a chat message from a bound session to another user's full JID, through the
//     session queue, outbound hooks, the router, inbound hooks, RFC 6121 delivery and serialisation;
//   - route, 2 shards: the same when sender and recipient have different home shards (one mesh hop each
//     way is a serialisation, a frame and a parse; the loopback mesh stands in for the SAB ring).
// Stops by itself after ~SECONDS.   node bench/router.bench.ts [seconds]
import { loadConfig } from '../src/config/load.ts';
import { modules } from '../src/modules/index.ts';
import { Placement } from '../src/shard/placement.ts';
import { bareOf, parseJid } from '../src/xmpp/jid.ts';
import { parseElement } from '../src/xmpp/stream-parser.ts';
import { type Element, shallowCopy } from '../src/xmpp/xml.ts';
import { createTestCluster, type TestClient, type TestCluster } from '../test/helpers/test-shard.ts';

const SECONDS = Number(process.argv[2] ?? 10);
const PAIRS = 200;
const BATCH = 2_000;

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Setup {
  cluster: TestCluster;
  senders: TestClient[];
  recipients: string[];
  delivered: () => number;
}

/** PAIRS senders and recipients; with 2 shards every pair has its two users on different home shards. */
async function setup(shards: number): Promise<Setup> {
  const base = loadConfig({ env: {} });
  const cluster = await createTestCluster({ modules, shards, config: { archive: { ...base.archive, enabled: false } } });
  const placement = new Placement(shards);
  const users: string[][] = Array.from({ length: shards }, () => []);
  for (let i = 0; users.some((u) => u.length < PAIRS); i++) {
    const bare = `user${i}@${cluster.config.domain}`;
    const list = users[placement.shardOf(bare)] as string[];
    if (list.length < PAIRS) list.push(bare);
  }
  const from = users[0] as string[];
  const to = (shards === 1 ? from.splice(PAIRS / 2) : users[1]) as string[];
  const n = Math.min(from.length, to.length);
  await cluster.createAccounts(...from.slice(0, n), ...to.slice(0, n));
  let count = 0;
  const senders: TestClient[] = [];
  const recipients: string[] = [];
  for (let i = 0; i < n; i++) {
    const s = await cluster.login(from[i] as string, 'bench');
    const r = await cluster.login(to[i] as string, 'bench');
    r.conn.write = () => {
      count++;
    };
    senders.push(s);
    recipients.push(r.full);
  }
  return { cluster, senders, recipients, delivered: () => count };
}

/** Sends BATCH messages round-robin over the pairs and waits until all are delivered; returns µs CPU per message. */
async function routeBatch(s: Setup, template: Element): Promise<number> {
  const target = s.delivered() + BATCH;
  const t0 = cpuUs();
  for (let i = 0; i < BATCH; i++) {
    const k = i % s.senders.length;
    const sender = s.senders[k] as TestClient;
    const el = shallowCopy(template);
    el.attrs.to = s.recipients[k] as string;
    const home = s.cluster.shards[s.cluster.placement.shardOf(bareOf(parseJid(sender.full)))];
    home?.home.fromConnection(sender.shard.id, sender.conn.id, el);
  }
  while (s.delivered() < target) await new Promise((r) => setImmediate(r));
  return (cpuUs() - t0) / BATCH;
}

function lookups(s: Setup): { parseJid: number; placement: number; session: number } {
  const n = 200_000;
  const fulls = s.recipients;
  const shard = s.cluster.shards[0];
  const placement = s.cluster.placement;
  let sink = 0;
  let t0 = cpuUs();
  for (let i = 0; i < n; i++) sink += parseJid(fulls[i % fulls.length] as string).local.length;
  const parse = (cpuUs() - t0) / n;
  const bares = fulls.map((f) => bareOf(parseJid(f)));
  t0 = cpuUs();
  for (let i = 0; i < n; i++) sink += placement.shardOf(bares[i % bares.length] as string);
  const place = (cpuUs() - t0) / n;
  t0 = cpuUs();
  for (let i = 0; i < n; i++) sink += shard?.sessions.get(bares[i % bares.length] as string, 'bench') ? 1 : 0;
  const session = (cpuUs() - t0) / n;
  if (sink === -1) console.log(sink); // keeps the loops from being optimised away
  return { parseJid: parse, placement: place, session };
}

const template = parseElement(
  "<message xmlns='jabber:client' type='chat' id='m1'><body>hello there, how are things going today? a hundred bytes of text, roughly.</body>" +
    "<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/></message>",
);

const one = await setup(1);
const two = await setup(2);
const results = { lookups: [] as ReturnType<typeof lookups>[], route1: [] as number[], route2: [] as number[] };
const deadline = Date.now() + SECONDS * 1000;
for (let round = 0; round < 3 || Date.now() < deadline; round++) {
  results.lookups.push(lookups(one));
  results.route1.push(await routeBatch(one, template));
  results.route2.push(await routeBatch(two, template));
}
await one.cluster.stop();
await two.cluster.stop();

const med = {
  parseJid: median(results.lookups.map((l) => l.parseJid)),
  placement: median(results.lookups.map((l) => l.placement)),
  session: median(results.lookups.map((l) => l.session)),
  route1: median(results.route1),
  route2: median(results.route2),
};
console.log(JSON.stringify({ bench: 'router', node: process.version, rounds: results.route1.length, usPerOp: med }));
console.log('| operation | µs CPU |');
console.log('| --- | --- |');
console.log(`| parseJid, a JID seen before | ${med.parseJid.toFixed(3)} |`);
console.log(`| placement of a bare JID (FNV-1a + slot table) | ${med.placement.toFixed(3)} |`);
console.log(`| session by bare JID and resource | ${med.session.toFixed(3)} |`);
console.log(`| route a chat message, 1 shard | ${med.route1.toFixed(2)} |`);
console.log(`| route a chat message, 2 shards (sender and recipient homes differ) | ${med.route2.toFixed(2)} |`);
