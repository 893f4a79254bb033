// What an idle TLS connection costs a Node 24 server at minimum, and which knobs change it.
//
// The parent opens N connections on loopback against a minimal server in a child process (fresh per
// variant, started with --expose-gc), makes each connection do one small exchange in each direction
// (as an XMPP login leaves it: OpenSSL has read and written records), then lets them sit idle. The
// child reports RSS, V8 heap and external memory at N/2 and at N connections, before and after a
// forced GC. "marginal" = (value at N − value at N/2) / (N/2): fixed costs (JIT, pools, the first
// handshake) cancel out, which is what a server holding 19k connections pays per extra connection.
//
// Why these variants: Node never sets SSL_MODE_RELEASE_BUFFERS (src/crypto/crypto_context.cc,
// SecureContext::Init only clears SSL_MODE_NO_AUTO_CHAIN; `secureOptions` sets SSL_OP_* options, not
// modes), so OpenSSL keeps its ~17 KB read and ~17 KB write record buffers for the connection's whole
// life. The write buffer is sized from the maximum send fragment, which Node does expose
// (`tlsSocket.setMaxSendFragment`), and OpenSSL reallocates it at the next write when that changes.
//
//   node bench/tls-memory.bench.ts [connections=3000] [variant,variant,...]
//   node bench/tls-memory.bench.ts 3000 list        # variant names
import { fork } from 'node:child_process';
import { constants } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { Worker } from 'node:worker_threads';
import { generateSelfSignedCertificate } from '../src/tls/certs.ts';
import { LeanTlsContext } from '../src/tls/lean/index.ts';

interface Variant {
  /**
   * 'plain' = net only; 'tls' = tls.createServer; 'starttls' = net server, plaintext exchange, then new
   * TLSSocket(raw); 'lean' = the same with waddle's lean TLS engine (src/tls/lean) instead of TLSSocket.
   */
  mode: 'plain' | 'tls' | 'starttls' | 'lean';
  ticketsOff?: boolean;
  ciphers?: string;
  ecdhCurve?: string;
  maxVersion?: tls.SecureVersion;
  highWaterMark?: number;
  noDelay?: boolean;
  /** starttls: drop our own reference to the raw socket after wrapping. */
  dropRaw?: boolean;
  /** setMaxSendFragment(n) once the handshake is done. */
  maxSendFragment?: number;
  /** Run the server in a worker thread (waddle's shards are worker threads: other malloc arenas). */
  worker?: boolean;
  env?: Record<string, string>;
}

const VARIANTS: Record<string, Variant> = {
  plain: { mode: 'plain' },
  'plain-worker': { mode: 'plain', worker: true },
  tls: { mode: 'tls' },
  starttls: { mode: 'starttls' },
  'starttls-dropraw': { mode: 'starttls', dropRaw: true },
  'starttls-worker': { mode: 'starttls', worker: true },
  'starttls-notickets': { mode: 'starttls', ticketsOff: true },
  'starttls-tls12': { mode: 'starttls', maxVersion: 'TLSv1.2' },
  'starttls-chacha': { mode: 'starttls', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' },
  'starttls-x25519': { mode: 'starttls', ecdhCurve: 'X25519' },
  'starttls-p256': { mode: 'starttls', ecdhCurve: 'P-256' },
  'starttls-hwm1k': { mode: 'starttls', highWaterMark: 1024 },
  'starttls-nodelay': { mode: 'starttls', noDelay: true },
  lean: { mode: 'lean' },
  'lean-x25519': { mode: 'lean', ecdhCurve: 'X25519' },
  'lean-worker': { mode: 'lean', worker: true },
  'starttls-frag512': { mode: 'starttls', maxSendFragment: 512 },
  'starttls-frag2k': { mode: 'starttls', maxSendFragment: 2048 },
  'starttls-frag4k': { mode: 'starttls', maxSendFragment: 4096 },
  'starttls-arena2': { mode: 'starttls', env: { MALLOC_ARENA_MAX: '2' } },
  'starttls-worker-frag2k-arena2': { mode: 'starttls', worker: true, maxSendFragment: 2048, env: { MALLOC_ARENA_MAX: '2' } },
};

interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}
type ChildMsg = { port: number } | { mem: Mem; gcMem: Mem; conns: number };
type ParentMsg = { measure: true };

const PROCEED = 'PROCEED\n';
const PING = `<presence xmlns='jabber:client'><status>${'x'.repeat(150)}</status></presence>`;

function snapshot(): Mem {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** The server: echoes the first message of each connection, then holds it. */
function serve(v: Variant, pem: { key: string; cert: string }, post: (m: ChildMsg) => void, onMsg: (f: () => void) => void): void {
  const ctxOpts: tls.SecureContextOptions = { key: pem.key, cert: pem.cert };
  if (v.ticketsOff) ctxOpts.secureOptions = constants.SSL_OP_NO_TICKET;
  if (v.ciphers) ctxOpts.ciphers = v.ciphers; // TLS 1.3 suite names are accepted here too
  if (v.ecdhCurve) ctxOpts.ecdhCurve = v.ecdhCurve;
  if (v.maxVersion) ctxOpts.maxVersion = v.maxVersion;
  const secureContext = tls.createSecureContext(ctxOpts);
  const lean =
    v.mode === 'lean' ? new LeanTlsContext({ key: pem.key, cert: pem.cert, groups: v.ecdhCurve ?? null, alpnXmppClient: false }) : null;
  const held = new Set<net.Socket>();
  const hold = (s: net.Socket) => {
    held.add(s);
    s.on('error', () => {});
    s.on('close', () => held.delete(s));
  };
  const echoOnce = (s: net.Socket) => {
    s.once('data', () => {
      if (v.maxSendFragment && s instanceof tls.TLSSocket) s.setMaxSendFragment(v.maxSendFragment);
      s.write(PING);
      s.on('data', () => {});
    });
  };
  const hwm = v.highWaterMark === undefined ? {} : { highWaterMark: v.highWaterMark };
  let server: net.Server;
  if (v.mode === 'tls') {
    server = tls.createServer({ ...ctxOpts, ...hwm }, (s) => {
      if (v.noDelay) s.setNoDelay(true);
      hold(s);
      echoOnce(s);
    });
  } else {
    server = net.createServer(hwm, (raw) => {
      if (v.noDelay) raw.setNoDelay(true);
      if (v.mode === 'plain') {
        hold(raw);
        echoOnce(raw);
        return;
      }
      raw.once('data', () => {
        raw.pause();
        raw.removeAllListeners('data');
        raw.write(PROCEED, () => {
          if (v.mode === 'lean') {
            const secure = (lean as LeanTlsContext).wrap(raw);
            held.add(secure as unknown as net.Socket);
            secure.on('close', () => held.delete(secure as unknown as net.Socket));
            secure.on('error', () => {});
            raw.resume();
            echoOnce(secure as unknown as net.Socket);
            return;
          }
          const secure = new tls.TLSSocket(raw, { isServer: true, secureContext });
          if (v.dropRaw) hold(secure);
          else {
            hold(raw);
            held.add(secure);
          }
          secure.on('error', () => {});
          echoOnce(secure);
        });
      });
    });
  }
  server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => post({ port: (server.address() as net.AddressInfo).port }));
  onMsg(() => {
    setTimeout(() => {
      const mem = snapshot();
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      setTimeout(() => post({ mem, gcMem: snapshot(), conns: held.size }), 300);
    }, 1000);
  });
}

async function childMain(): Promise<void> {
  const v = JSON.parse(process.env.TLS_MEM_VARIANT as string) as Variant;
  const pem = JSON.parse(process.env.TLS_MEM_PEM as string) as { key: string; cert: string };
  const send = (m: ChildMsg) => process.send?.(m);
  if (!v.worker) {
    serve(v, pem, send, (f) => process.on('message', f));
    return;
  }
  const w = new Worker(new URL(import.meta.url), { workerData: { v, pem } }); // --expose-gc is process-wide
  w.on('message', (m: ChildMsg) => {
    // RSS is per process: replace the worker's view by the process's at the same moment.
    if ('mem' in m) m.gcMem.rss = process.memoryUsage().rss;
    send(m);
  });
  process.on('message', (m: ParentMsg) => w.postMessage(m));
}

async function workerMain(data: { v: Variant; pem: { key: string; cert: string } }): Promise<void> {
  const { parentPort } = await import('node:worker_threads');
  if (!parentPort) throw new Error('no parent port');
  const port = parentPort;
  serve(
    data.v,
    data.pem,
    (m) => port.postMessage(m),
    (f) => port.on('message', f),
  );
}

/** One client connection in the state an XMPP login leaves: exchange done, then idle. */
function connectOne(port: number, v: Variant, sockets: net.Socket[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (s: net.Socket) => {
      s.once('data', () => {
        sockets.push(s);
        resolve();
      });
      s.write(PING);
    };
    const fail = (err: Error) => reject(err);
    if (v.mode === 'tls') {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => done(s));
      s.on('error', fail);
      return;
    }
    const raw = net.connect({ host: '127.0.0.1', port }, () => {
      if (v.mode === 'plain') return done(raw);
      raw.write('STARTTLS\n');
      raw.once('data', () => {
        const s = tls.connect({ socket: raw, rejectUnauthorized: false }, () => done(s));
        s.on('error', fail);
      });
    });
    raw.on('error', fail);
  });
}

async function connectMany(port: number, v: Variant, count: number, sockets: net.Socket[]): Promise<void> {
  let left = count;
  const lane = async () => {
    while (left > 0) {
      left--;
      await connectOne(port, v, sockets);
    }
  };
  await Promise.all(Array.from({ length: 32 }, lane));
}

function ask(child: ReturnType<typeof fork>): Promise<{ mem: Mem; gcMem: Mem; conns: number }> {
  return new Promise((resolve) => {
    child.once('message', (m: ChildMsg) => resolve(m as { mem: Mem; gcMem: Mem; conns: number }));
    child.send({ measure: true } satisfies ParentMsg);
  });
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);

async function runVariant(name: string, v: Variant, n: number, pem: { key: string; cert: string }): Promise<string> {
  const child = fork(new URL(import.meta.url), ['--child'], {
    execArgv: ['--expose-gc'],
    env: { ...process.env, ...v.env, TLS_MEM_VARIANT: JSON.stringify(v), TLS_MEM_PEM: JSON.stringify(pem) },
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 180_000); // every run is bounded
  try {
    const port = await new Promise<number>((resolve) => child.once('message', (m: ChildMsg) => resolve((m as { port: number }).port)));
    const sockets: net.Socket[] = [];
    const base = await ask(child);
    const t0 = Date.now();
    await connectMany(port, v, n / 2, sockets);
    const half = await ask(child);
    await connectMany(port, v, n / 2, sockets);
    const full = await ask(child);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    for (const s of sockets) s.destroy();
    const per = (a: Mem, b: Mem, k: keyof Mem, count: number) => kb((b[k] - a[k]) / count);
    const cols = [
      name,
      String(full.conns),
      per(base.mem, full.mem, 'rss', n),
      per(half.mem, full.mem, 'rss', n / 2),
      per(half.gcMem, full.gcMem, 'rss', n / 2),
      per(half.gcMem, full.gcMem, 'heapUsed', n / 2),
      per(half.gcMem, full.gcMem, 'external', n / 2),
      per(half.gcMem, full.gcMem, 'arrayBuffers', n / 2),
      secs,
    ];
    return `| ${cols.join(' | ')} |`;
  } finally {
    clearTimeout(killer);
    child.kill();
  }
}

async function main(): Promise<void> {
  const n = Math.max(2, Number(process.argv[2] ?? 3000)) & ~1;
  const names = process.argv[3] === undefined ? Object.keys(VARIANTS) : process.argv[3].split(',');
  if (names[0] === 'list') {
    for (const [k, v] of Object.entries(VARIANTS)) console.log(k, JSON.stringify(v));
    return;
  }
  const pem = await generateSelfSignedCertificate('localhost');
  console.log(`Node ${process.version}, OpenSSL ${process.versions.openssl}, ${n} connections per variant (KB per connection)\n`);
  console.log(
    '| variant | held | RSS avg | RSS marginal | RSS marginal after GC | heap marginal after GC | external marginal | arrayBuffers marginal | connect s |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const name of names) {
    const v = VARIANTS[name];
    if (!v) throw new Error(`unknown variant ${name}`);
    console.log(await runVariant(name, v, n, pem));
  }
}

const { isMainThread, workerData } = await import('node:worker_threads');
if (!isMainThread) await workerMain(workerData as { v: Variant; pem: { key: string; cert: string } });
else if (process.argv.includes('--child')) await childMain();
else await main();
