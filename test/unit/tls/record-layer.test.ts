// The lean engine's hand-off (src/tls/lean/record_layer.c): after a TLS 1.3 handshake OpenSSL's state is
// freed and the addon protects records itself. Real clients on loopback: node:tls with each TLS 1.3 cipher
// suite, OpenSSL's s_client for KeyUpdate and max_fragment_length (no library client sends those), and a TCP proxy between client
// and server that dribbles bytes one at a time or injects broken records.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { generateSelfSignedCertificate } from '../../../src/tls/certs.ts';
import { LeanTlsContext, type LeanTlsSocket } from '../../../src/tls/lean/index.ts';

const pem = await generateSelfSignedCertificate('localhost');
const LABEL = 'EXPORTER-Channel-Binding';
const context = (handOff = true) => new LeanTlsContext({ key: pem.key, cert: pem.cert, groups: null, alpnXmppClient: false, handOff });
const handingOff = context();

/** A TCP proxy from the client to the lean server: passes bytes on, or one at a time, or injects some. */
interface Proxy {
  port: number;
  /** Forward client bytes one per write (each a separate TCP segment with Nagle off). */
  dribble: boolean;
  /** Raw bytes to the server as if the client had sent them. */
  inject(bytes: Buffer): void;
  close(): void;
}

interface Served {
  server: LeanTlsSocket;
  client: tls.TLSSocket;
  received: () => string;
  errors: Error[];
  proxy: Proxy;
  close(): void;
}

async function serve(ctx: LeanTlsContext, clientOpts: tls.ConnectionOptions = {}, dribble = false): Promise<Served> {
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  let upstream: net.Socket | null = null;
  const front = net.createServer((down) => {
    down.setNoDelay(true);
    const up = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
    up.setNoDelay(true);
    upstream = up;
    down.on('data', async (chunk: Buffer) => {
      if (!proxy.dribble) return void up.write(chunk);
      down.pause();
      for (const byte of chunk) {
        up.write(Buffer.of(byte));
        await new Promise((r) => setImmediate(r));
      }
      down.resume();
    });
    up.on('data', (chunk: Buffer) => down.write(chunk));
    up.on('end', () => down.end());
    down.on('end', () => up.end());
    up.on('close', () => setTimeout(() => down.destroy(), 100));
    down.on('close', () => setTimeout(() => up.destroy(), 100));
    up.on('error', () => {});
    down.on('error', () => {});
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const proxy: Proxy = {
    port: (front.address() as net.AddressInfo).port,
    dribble,
    inject: (bytes) => upstream?.write(bytes),
    close: () => front.close(),
  };
  const client = tls.connect({ host: '127.0.0.1', port: proxy.port, rejectUnauthorized: false, ...clientOpts });
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e));
  const [raw] = await accepted;
  const server = ctx.wrap(raw);
  server.on('error', (e) => errors.push(e));
  const chunks: Buffer[] = [];
  server.on('data', (d: Buffer) => chunks.push(d));
  await Promise.all([once(client, 'secureConnect'), once(server, 'secure')]);
  return {
    server,
    client,
    received: () => Buffer.concat(chunks).toString(),
    errors,
    proxy,
    close() {
      client.destroy();
      server.destroy();
      proxy.close();
      listener.close();
    },
  };
}

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function readAll(client: tls.TLSSocket): () => string {
  const got: Buffer[] = [];
  client.on('data', (d: Buffer) => got.push(d));
  return () => Buffer.concat(got).toString();
}

for (const suite of ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']) {
  t.test(`${suite}: OpenSSL's state is freed after the handshake, records go on both ways`, async (t) => {
    const s = await serve(handingOff, { ciphers: suite });
    t.teardown(s.close);
    t.equal(s.client.getCipher().standardName, suite, 'the client negotiated this suite');
    t.equal(s.server.recordLayer, 'waddle', 'handed off');
    t.equal(s.server.getProtocol(), 'TLSv1.3');
    t.same(
      s.server.exportKeyingMaterial(32, LABEL, Buffer.alloc(0)),
      s.client.exportKeyingMaterial(32, LABEL, Buffer.alloc(0)),
      'tls-exporter kept from before the hand-off',
    );
    t.throws(() => s.server.exportKeyingMaterial(16, 'EXPORTER-other', Buffer.alloc(0)), /only tls-exporter/);
    const back = readAll(s.client);
    // Beyond one record (16 KB) each way, and an empty write.
    const big = `${'a'.repeat(40_000)}🐧`;
    s.client.write(big);
    s.server.write('');
    s.server.write(big);
    await until(() => s.received() === big && back() === big);
    t.pass('40 KB each way, every byte in order');
    s.client.end();
    await once(s.server, 'close');
    t.same(s.errors, [], 'close_notify both ways, no error');
  });
}

t.test('tickets are sent before the hand-off; a resumed session is handed off too', async (t) => {
  const first = await serve(handingOff);
  t.teardown(first.close);
  const tickets: Buffer[] = [];
  first.client.on('session', (ticket: Buffer) => tickets.push(ticket));
  const back = readAll(first.client);
  first.server.write('after the tickets');
  await until(() => back() === 'after the tickets' && tickets.length > 0);
  t.equal(tickets.length, 2, "OpenSSL's two TLS 1.3 tickets arrived, and our record after them decrypted");
  const resumed = await serve(handingOff, { session: tickets[1] });
  t.teardown(resumed.close);
  t.equal(resumed.client.isSessionReused(), true, 'resumed with a ticket');
  t.equal(resumed.server.recordLayer, 'waddle');
  const echo = readAll(resumed.client);
  resumed.client.write('ping');
  await until(() => resumed.received() === 'ping');
  resumed.server.write('pong');
  await until(() => echo() === 'pong');
  t.same([...first.errors, ...resumed.errors], []);
});

t.test('TLS 1.2, and a context with handOff: false, stay with OpenSSL', async (t) => {
  const tls12 = await serve(handingOff, { maxVersion: 'TLSv1.2' });
  t.teardown(tls12.close);
  const kept = await serve(context(false));
  t.teardown(kept.close);
  for (const s of [tls12, kept]) {
    t.equal(s.server.recordLayer, 'openssl');
    s.client.write('still fine');
    await until(() => s.received() === 'still fine');
  }
  t.equal(kept.server.exportKeyingMaterial(16, 'EXPORTER-other', Buffer.alloc(0)).length, 16, 'any export while OpenSSL serves');
});

t.test('client bytes one at a time: the handshake, data pipelined behind Finished, records split anywhere', async (t) => {
  const s = await serve(handingOff, {}, true);
  t.teardown(s.close);
  s.client.write('<stream:stream to="localhost">');
  await until(() => s.received() === '<stream:stream to="localhost">');
  t.equal(s.server.recordLayer, 'waddle', 'handed off once OpenSSL held no partial record');
  s.client.write('héllo');
  s.client.write('x'.repeat(300));
  await until(() => s.received().endsWith('x'.repeat(300)));
  t.equal(s.received(), `<stream:stream to="localhost">héllo${'x'.repeat(300)}`);
  t.same(s.errors, []);
});

t.test('KeyUpdate from openssl s_client, with and without update_requested, over padded records', async (t) => {
  const listener = net.createServer((raw) => {
    const s = handingOff.wrap(raw);
    s.on('error', (e) => serverErrors.push(e));
    s.on('data', (d: Buffer) => {
      layers.push(s.recordLayer);
      s.write(`echo:${d}`);
    });
  });
  const serverErrors: Error[] = [];
  const layers: (string | null)[] = [];
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  t.teardown(() => listener.close());
  const port = (listener.address() as net.AddressInfo).port;
  // s_client reads commands from stdin: a line "K" sends KeyUpdate(update_requested), "k" without.
  // -record_padding: the client pads every record to a multiple of 300 bytes (RFC 8446 §5.4), which the
  // record layer strips.
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-record_padding', '300'];
  const client = spawn('openssl', args, { stdio: 'pipe' });
  let out = '';
  // KEYUPDATE goes to stderr, echoes to stdout.
  const collect = (d: Buffer) => {
    out += d;
  };
  client.stdout.on('data', collect);
  client.stderr.on('data', collect);
  const exited = once(client, 'exit');
  t.teardown(() => client.kill());
  const send = async (line: string, expect: RegExp) => {
    client.stdin.write(`${line}\n`);
    await until(() => expect.test(out), 15_000).catch((e: Error) => {
      throw new Error(`${e.message} waiting for ${expect} after ${line}; s_client said:\n${out}`);
    });
  };
  await send('before', /echo:before/);
  await send('K', /KEYUPDATE/);
  await send('after-requested', /echo:after-requested/);
  await send('k', /KEYUPDATE[\s\S]*KEYUPDATE/);
  await send('after-plain', /echo:after-plain/);
  client.stdin.end();
  await exited;
  t.match(out, /echo:before\n[\s\S]*KEYUPDATE\n[\s\S]*echo:after-requested\n[\s\S]*KEYUPDATE\n[\s\S]*echo:after-plain\n/);
  t.equal(out.match(/KEYUPDATE/g)?.length, 2, 'both key updates sent by the client');
  t.same(layers, ['waddle', 'waddle', 'waddle'], 'the record layer answered them, not OpenSSL');
  t.same(serverErrors, []);
});

t.test('KeyUpdates without application data between them: the 33rd is refused', async (t) => {
  const serverErrors: Error[] = [];
  const listener = net.createServer((raw) => {
    const s = handingOff.wrap(raw);
    s.on('error', (e) => serverErrors.push(e));
    s.on('data', (d: Buffer) => s.write(`echo:${d}`));
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  t.teardown(() => listener.close());
  const port = (listener.address() as net.AddressInfo).port;
  const client = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3'], { stdio: 'pipe' });
  let out = '';
  const collect = (d: Buffer) => {
    out += d;
  };
  client.stdout.on('data', collect);
  client.stderr.on('data', collect);
  const exited = once(client, 'exit');
  t.teardown(() => client.kill());
  client.stdin.write('hi\n');
  await until(() => out.includes('echo:hi'), 15_000);
  const updates = () => out.match(/KEYUPDATE/g)?.length ?? 0;
  for (let i = 1; i <= 33 && serverErrors.length === 0; i++) {
    client.stdin.write('k\n');
    await until(() => updates() >= i, 15_000);
  }
  await until(() => serverErrors.length > 0, 15_000);
  client.stdin.end();
  await exited;
  t.match(serverErrors[0]?.message, /too many KeyUpdates/);
  t.equal(updates(), 33);
});

t.test("a client's max_fragment_length (RFC 6066) holds after the hand-off", async (t) => {
  const listener = net.createServer((raw) => {
    const s = handingOff.wrap(raw);
    s.on('error', (e) => serverErrors.push(e));
    s.on('data', () => {
      layer = s.recordLayer;
      s.write(`${'y'.repeat(3000)}DONE\n`); // six records of at most 512 bytes
    });
  });
  const serverErrors: Error[] = [];
  let layer: string | null = null;
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  t.teardown(() => listener.close());
  const port = (listener.address() as net.AddressInfo).port;
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-maxfraglen', '512'];
  const client = spawn('openssl', args, { stdio: 'pipe' });
  let out = '';
  const collect = (d: Buffer) => {
    out += d;
  };
  client.stdout.on('data', collect);
  client.stderr.on('data', collect);
  const exited = once(client, 'exit');
  t.teardown(() => client.kill());
  client.stdin.write('hello\n');
  // (s_client also prints the server's certificate, hence a sentinel no PEM contains)
  await until(() => out.includes('yDONE') || /data length too long|alert/.test(out), 15_000);
  client.stdin.end();
  await exited;
  t.equal(layer, 'waddle', 'handed off');
  t.match(out, `${'y'.repeat(3000)}DONE`, 'all 3,000 bytes arrived');
  t.notMatch(out, /data length too long|record overflow/, 'no record above the 512-byte limit');
  t.same(serverErrors, []);
});

t.test('broken records after the hand-off: an alert for that client, the others go on', async (t) => {
  const other = await serve(handingOff);
  t.teardown(other.close);
  const cases: [string, Buffer, RegExp, RegExp][] = [
    ['a record with a bad tag', Buffer.concat([Buffer.of(23, 3, 3, 0, 20), Buffer.alloc(20, 7)]), /bad record mac/i, /MAC/],
    ['a record too large', Buffer.of(23, 3, 3, 0x48, 0x01), /record overflow/i, /too large/],
    ['a plaintext handshake record', Buffer.of(22, 3, 3, 0, 4, 1, 0, 0, 0), /unexpected message/i, /record type/],
  ];
  for (const [what, bytes, clientSees, serverSees] of cases) {
    const s = await serve(handingOff);
    t.teardown(s.close);
    t.equal(s.server.recordLayer, 'waddle');
    const closed = new Promise((r) => s.client.on('close', r)); // not once(): it rejects on 'error'
    s.proxy.inject(bytes);
    await closed;
    t.match(s.errors.map((e) => e.message).join(' | '), clientSees, `${what}: the client is told`);
    t.match(s.errors.map((e) => e.message).join(' | '), serverSees, `${what}: the server says why`);
  }
  other.client.write('unaffected');
  await until(() => other.received() === 'unaffected');
  t.same(other.errors, []);
});
