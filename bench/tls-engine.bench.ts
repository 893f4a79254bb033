// Micro benchmark: what one small stanza costs to send and to receive through each client TLS engine, in one
// process over loopback: the lean engine (src/tls/lean) after its TLS 1.3 hand-off to its own record layer
// (`lean`, the default) and with OpenSSL kept for the whole connection (`lean-openssl`, `[tls] hand_off =
// false`), and node:tls (`new TLSSocket(raw, { isServer })`, as waddle's STARTTLS). The client side is
// node:tls in every case, so differences are the server engine's.
//   - send: in each event-loop turn the server writes one stanza to each of PAIRS connections (a fan-out:
//     C2sConnection writes once per connection per turn, so each write is its own TLS record), BATCH in all;
//   - receive: in each turn each of PAIRS clients writes one stanza; the server reads them all.
// Reports µs of process CPU (user + system, both ends and the kernel's loopback work) per stanza, median of
// alternating rounds. Stops by itself after ~SECONDS.   node bench/tls-engine.bench.ts [seconds] [pairs=50]
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { generateSelfSignedCertificate } from '../src/tls/certs.ts';
import { LeanTlsContext } from '../src/tls/lean/index.ts';

const SECONDS = Number(process.argv[2] ?? 10);
const PAIRS = Number(process.argv[3] ?? 50);
const TURNS = Math.max(5, Math.round(5_000 / PAIRS));
const BATCH = PAIRS * TURNS;
const STANZA = `<message to='bob@localhost/phone' from='alice@localhost/laptop' type='chat' id='m1'><body>${'hello '.repeat(40)}</body></message>`;

interface ServerSide {
  write(text: string): void;
}

const ENGINES = ['lean', 'lean-openssl', 'node'] as const;
type Engine = (typeof ENGINES)[number];

const pem = await generateSelfSignedCertificate('localhost');
const lean = new LeanTlsContext({ key: pem.key, cert: pem.cert, groups: null, alpnXmppClient: false });
const leanOpenssl = new LeanTlsContext({ key: pem.key, cert: pem.cert, groups: null, alpnXmppClient: false, handOff: false });
const nodeContext = tls.createSecureContext({ key: pem.key, cert: pem.cert });

interface Pair {
  server: ServerSide;
  client: tls.TLSSocket;
  /** Routes what the server decrypts to `f` until the returned stop is called. */
  serverReader(f: (bytes: number) => void): () => void;
  close(): void;
}

async function pair(engine: Engine): Promise<Pair> {
  const listener = net.createServer({ noDelay: true });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = tls.connect({ host: '127.0.0.1', port: (listener.address() as net.AddressInfo).port, rejectUnauthorized: false });
  const [raw] = await accepted;
  const secure =
    engine === 'node'
      ? new tls.TLSSocket(raw, { isServer: true, secureContext: nodeContext })
      : (engine === 'lean' ? lean : leanOpenssl).wrap(raw);
  await once(client, 'secureConnect');
  const server: ServerSide = { write: (text) => void secure.write(text) };
  let onServerData: ((bytes: number) => void) | null = null;
  secure.on('data', (d: Buffer) => onServerData?.(d.length));
  return {
    server,
    client,
    serverReader(f: (bytes: number) => void): () => void {
      onServerData = f;
      return () => {
        onServerData = null;
      };
    },
    close() {
      client.destroy();
      secure.destroy();
      listener.close();
    },
  };
}

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const stanzaBytes = Buffer.byteLength(STANZA);

/** Resolves when every pair's reader has seen TURNS stanzas' worth of bytes. */
function allRead(pairsOf: Pair[], reader: (p: Pair, f: (bytes: number) => void) => () => void): Promise<void> {
  let pending = pairsOf.length;
  return new Promise((resolve) => {
    for (const p of pairsOf) {
      let got = 0;
      const stop = reader(p, (bytes) => {
        got += bytes;
        if (got >= stanzaBytes * TURNS) {
          stop();
          if (--pending === 0) resolve();
        }
      });
    }
  });
}

async function round(pairsOf: Pair[], direction: 'send' | 'receive'): Promise<number> {
  const done =
    direction === 'send'
      ? allRead(pairsOf, (p, f) => {
          const on = (d: Buffer) => f(d.length);
          p.client.on('data', on);
          return () => p.client.off('data', on);
        })
      : allRead(pairsOf, (p, f) => p.serverReader(f));
  const t0 = cpuUs();
  for (let turn = 0; turn < TURNS; turn++) {
    for (const p of pairsOf) {
      if (direction === 'send') p.server.write(STANZA);
      else p.client.write(STANZA);
    }
    await new Promise((r) => setImmediate(r));
  }
  await done;
  return (cpuUs() - t0) / BATCH;
}

const results: Record<string, number[]> = {};
const pairs: Record<Engine, Pair[]> = { lean: [], 'lean-openssl': [], node: [] };
for (const engine of ENGINES) for (let i = 0; i < PAIRS; i++) pairs[engine].push(await pair(engine));
const end = Date.now() + SECONDS * 1000;
let rounds = 0;
while (Date.now() < end || rounds < 2) {
  for (const engine of ENGINES) {
    for (const direction of ['send', 'receive'] as const) {
      const key = `${engine} ${direction}`;
      const list = results[key] ?? [];
      results[key] = list;
      list.push(await round(pairs[engine], direction));
    }
  }
  rounds++;
}
for (const list of Object.values(pairs)) for (const p of list) p.close();

const usPerOp = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Number(median(v).toFixed(3))]));
console.log(
  JSON.stringify({
    bench: 'tls-engine',
    node: process.version,
    openssl: process.versions.openssl,
    pairs: PAIRS,
    rounds,
    stanzaBytes,
    usPerOp,
  }),
);
console.log('| engine, direction | µs CPU per stanza (both ends) |\n| --- | --- |');
for (const [k, v] of Object.entries(usPerOp)) console.log(`| ${k} | ${v} |`);
process.exit(0);
