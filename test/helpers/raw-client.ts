// A byte-level XMPP client for tests that must send what no real client library would (malformed
// XML, oversized stanzas, DTDs) and read the exact stream errors back.
import net from 'node:net';
import tls from 'node:tls';
import { StreamParser } from '../../src/xmpp/stream-parser.ts';
import type { Element } from '../../src/xmpp/xml.ts';

export interface RawClient {
  socket: net.Socket | tls.TLSSocket;
  elements: Element[];
  closed: Promise<void>;
  isClosed(): boolean;
  send(text: string): void;
  waitFor(pred: (el: Element) => boolean, timeoutMs?: number): Promise<Element>;
  open(): Promise<Element>; // sends a stream header, resolves with <stream:features/>
  /** `pipelined`: plaintext sent in the same write right behind <starttls/> (what an attacker injects). */
  startTls(pipelined?: string): Promise<void>;
  authPlain(user: string, password: string): Promise<Element>;
  bind(resource?: string): Promise<string>;
  login(user: string, password: string, resource?: string): Promise<string>;
  destroy(): void;
}

export async function connectRaw(port: number, opts: { directTls?: boolean } = {}): Promise<RawClient> {
  const elements: Element[] = [];
  const waiters: { pred: (el: Element) => boolean; resolve: (el: Element) => void }[] = [];
  let ended = false;
  const parser = new StreamParser(
    {
      onStreamStart: () => {},
      onStanza: (el) => {
        elements.push(el);
        for (const w of [...waiters]) {
          if (w.pred(el)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(el);
          }
        }
      },
      onStreamEnd: () => {},
      onError: () => {},
    },
    { maxStanzaBytes: 16 * 1024 * 1024 },
  );
  let socket: net.Socket | tls.TLSSocket = opts.directTls
    ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['xmpp-client'] })
    : net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once(opts.directTls ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
  });
  let closedResolve: () => void = () => {};
  const closed = new Promise<void>((r) => (closedResolve = r));
  const attach = (s: net.Socket) => {
    s.on('data', (d: Buffer) => parser.write(d));
    s.on('close', () => {
      ended = true;
      closedResolve();
    });
    s.on('error', () => {});
  };
  attach(socket);
  let n = 0;
  const c: RawClient = {
    get socket() {
      return socket;
    },
    elements,
    closed,
    isClosed: () => ended,
    send: (text) => void socket.write(text),
    waitFor(pred, timeoutMs = 10_000) {
      const seen = elements.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; got: ${elements.map(String).join('\n')}`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (el) => {
            clearTimeout(timer);
            resolve(el);
          },
        });
      });
    },
    async open() {
      parser.reset();
      elements.length = 0;
      socket.write(
        `<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
      );
      return c.waitFor((el) => el.name === 'stream:features');
    },
    async startTls(pipelined = '') {
      socket.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>${pipelined}`);
      await c.waitFor((el) => el.name === 'proceed');
      const raw = socket;
      raw.removeAllListeners('data');
      socket = tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', () => resolve());
        socket.once('error', reject);
      });
      socket.on('data', (d: Buffer) => parser.write(d));
      socket.on('error', () => {});
    },
    async authPlain(user, password) {
      elements.length = 0; // an earlier <failure/> must not answer this attempt
      socket.write(
        `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`,
      );
      return c.waitFor((el) => el.name === 'success' || el.name === 'failure');
    },
    async bind(resource) {
      const id = `bind${++n}`;
      socket.write(
        `<iq type='set' id='${id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>${resource ? `<resource>${resource}</resource>` : ''}</bind></iq>`,
      );
      const res = await c.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
      return res.getChild('bind')?.getChildText('jid') ?? '';
    },
    async login(user, password, resource) {
      await c.open();
      if (!opts.directTls) {
        await c.startTls();
        await c.open();
      }
      const result = await c.authPlain(user, password);
      if (result.name !== 'success') throw new Error(`auth failed: ${result.toString()}`);
      await c.open();
      return c.bind(resource);
    },
    destroy: () => socket.destroy(),
  };
  return c;
}
