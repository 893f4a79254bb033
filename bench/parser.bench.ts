// Micro benchmark: our StreamParser against @xmpp/xml's Parser (ltx) on the same stream of ~326-byte
// message stanzas delivered as Buffers of 1-4 KB, as a socket would. Reports µs of CPU per stanza
// (process.cpuUsage, user + system), the median of alternating rounds. Stops by itself after ~10 s.
//   node bench/parser.bench.ts [seconds]
import { Parser as LtxStreamParser, type Element } from '@xmpp/xml';
import { StreamParser } from '../src/xmpp/stream-parser.ts';

const SECONDS = Number(process.argv[2] ?? 10);
const STANZAS = 20_000;
const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
  "to='example.com' version='1.0' xml:lang='en'>";

/** Deterministic pseudo-random numbers (mulberry32), so every run parses the same bytes. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function stanza(i: number, rnd: () => number): string {
  const words = ['hello', 'where', 'are', 'you', 'tonight', 'café', 'meeting', 'at', 'six', '&amp;', 'ok'];
  let body = '';
  while (body.length < 60) body += `${words[Math.floor(rnd() * words.length)]} `;
  return (
    `<message to='juliet${i % 97}@example.com/balcony' from='romeo${i % 89}@example.net/orchard' type='chat' ` +
    `id='m${i.toString(36)}' xml:lang='en'><body>${body.trim()}</body>` +
    `<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/>` +
    `<origin-id xmlns='urn:xmpp:sid:0' id='${(i * 7919).toString(16)}'/></message>`
  );
}

function makeChunks(): { chunks: Buffer[]; bytes: number; avg: number } {
  const rnd = prng(42);
  const parts: string[] = [];
  for (let i = 0; i < STANZAS; i++) parts.push(stanza(i, rnd));
  const body = Buffer.from(parts.join(''));
  const chunks: Buffer[] = [];
  for (let at = 0; at < body.length; ) {
    const n = 1024 + Math.floor(rnd() * 3073);
    chunks.push(body.subarray(at, at + n));
    at += n;
  }
  return { chunks, bytes: body.length, avg: body.length / STANZAS };
}

type Runner = { name: string; run(chunks: Buffer[]): number };

const ours: Runner = {
  name: 'waddle StreamParser',
  run(chunks) {
    let n = 0;
    let failed: Error | undefined;
    const p = new StreamParser({
      onStreamStart() {},
      onStanza(el: Element) {
        if (el.name === 'message') n++;
      },
      onStreamEnd() {},
      onError(e) {
        failed = e;
      },
    });
    p.write(HEADER);
    for (const c of chunks) p.write(c);
    if (failed) throw failed;
    return n;
  },
};

const ltx: Runner = {
  name: '@xmpp/xml Parser',
  run(chunks) {
    let n = 0;
    const p = new LtxStreamParser();
    p.on('element', (el: Element) => {
      if (el.name === 'message') n++;
    });
    p.write(HEADER);
    for (const c of chunks) p.write(c);
    return n;
  },
};

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

const { chunks, bytes, avg } = makeChunks();
const runners = [ours, ltx];
const samples: Record<string, number[]> = Object.fromEntries(runners.map((r) => [r.name, []]));
for (const r of runners) for (let i = 0; i < 3; i++) r.run(chunks); // warm-up (JIT)
const deadline = performance.now() + SECONDS * 1000;
while (performance.now() < deadline) {
  for (const r of runners) {
    const t0 = cpuMicros();
    const n = r.run(chunks);
    const dt = cpuMicros() - t0;
    if (n !== STANZAS) throw new Error(`${r.name} parsed ${n} of ${STANZAS} stanzas`);
    samples[r.name]?.push(dt / STANZAS);
  }
}

const rows = runners.map((r) => {
  const s = samples[r.name] ?? [];
  const us = median(s);
  return { parser: r.name, usPerStanza: Number(us.toFixed(3)), stanzasPerSec: Math.round(1e6 / us), rounds: s.length };
});
console.log(
  JSON.stringify({
    bench: 'parser',
    node: process.version,
    stanzas: STANZAS,
    avgStanzaBytes: Math.round(avg),
    chunkBytes: '1024-4096',
    totalBytes: bytes,
    results: rows,
  }),
);
console.table(rows);
