// One client login for the load generator: TCP or TLS, stream header, STARTTLS (RFC 6120 §5), SASL
// PLAIN or SCRAM (§6), resource binding (§7), optional initial presence (RFC 6121 §4.2). Replies are
// not parsed as XML: the generator only scans the text for the few markers it needs, so that it
// stays much cheaper than the server it measures.
import net from 'node:net';
import tls from 'node:tls';
import { type SaltedPasswordCache, ScramClient } from './scram-client.ts';

export type TransportMode = 'plain' | 'starttls' | 'direct-tls';
export type Mechanism = 'PLAIN' | 'SCRAM-SHA-1' | 'SCRAM-SHA-256';

export interface LoginOptions {
  host: string;
  port: number;
  tlsPort: number;
  domain: string;
  transport: TransportMode;
  mechanism: Mechanism;
  username: string;
  password: string;
  /** null: let the server choose (RFC 6120 §7.6). */
  resource: string | null;
  localAddress?: string | undefined;
  presence: boolean;
  timeoutMs: number;
  scramCache: SaltedPasswordCache;
}

export interface LoggedIn {
  socket: net.Socket;
  jid: string;
  /** Bytes received after the bind result (e.g. presence), as latin1 text. */
  rest: string;
}

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const FEATURES_END = '</stream:features>';

/** Collects received text and resolves waits on simple substring conditions. */
class MarkerReader {
  buf = '';
  #pred: ((buf: string) => boolean) | null = null;
  #resolve: (buf: string) => void = () => {};
  #reject: (err: Error) => void = () => {};
  #timer: NodeJS.Timeout | undefined;
  #error: Error | null = null;

  readonly onData = (chunk: Buffer): void => {
    this.buf += chunk.toString('latin1');
    this.#check();
  };

  readonly onClose = (): void => this.fail(new Error(`connection closed; received: ${this.buf.slice(-300)}`));

  fail(err: Error): void {
    this.#error ??= err;
    this.#check();
  }

  /** Resolves with everything received up to now once `pred` holds, and empties the buffer. */
  until(pred: (buf: string) => boolean, what: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#pred = pred;
      this.#resolve = resolve;
      this.#reject = reject;
      this.#timer = setTimeout(() => this.fail(new Error(`timed out waiting for ${what}; received: ${this.buf.slice(-300)}`)), timeoutMs);
      this.#check();
    });
  }

  #check(): void {
    if (this.#pred === null) return;
    const streamError = this.buf.indexOf('<stream:error');
    if (this.#error === null && streamError !== -1)
      this.#error = new Error(`stream error: ${this.buf.slice(streamError, streamError + 300)}`);
    if (this.#error !== null) return this.#settle(() => this.#reject(this.#error as Error));
    if (!this.#pred(this.buf)) return;
    const got = this.buf;
    this.buf = '';
    this.#settle(() => this.#resolve(got));
  }

  #settle(fn: () => void): void {
    clearTimeout(this.#timer);
    this.#pred = null;
    fn();
  }
}

const header = (domain: string) =>
  `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;

/** Text between `<name …>` and `</name>`, or '' for an empty element. */
function elementText(buf: string, name: string): string {
  const open = buf.indexOf(`<${name}`);
  if (open === -1) return '';
  const gt = buf.indexOf('>', open);
  if (buf[gt - 1] === '/') return '';
  const close = buf.indexOf(`</${name}>`, gt);
  return close === -1 ? '' : buf.slice(gt + 1, close);
}

const hasElement = (name: string) => (buf: string) => buf.includes(`</${name}>`) || new RegExp(`<${name}[^>]*/>`).test(buf);

function connected(socket: net.Socket, event: 'connect' | 'secureConnect', timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${event} timed out`)), timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off(event, onOk);
      socket.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    const onOk = () => done();
    socket.once(event, onOk);
    socket.once('error', done);
  });
}

/** Logs in; on any failure the socket is destroyed and the promise rejects. */
export async function login(o: LoginOptions): Promise<LoggedIn> {
  const reader = new MarkerReader();
  const local = o.localAddress === undefined ? {} : { localAddress: o.localAddress };
  let socket: net.Socket =
    o.transport === 'direct-tls'
      ? tls.connect({
          host: o.host,
          port: o.tlsPort,
          servername: o.domain,
          rejectUnauthorized: false,
          ALPNProtocols: ['xmpp-client'],
          ...local,
        })
      : net.connect({ host: o.host, port: o.port, noDelay: true, ...local });
  socket.on('error', (err) => reader.fail(err));
  try {
    await connected(socket, o.transport === 'direct-tls' ? 'secureConnect' : 'connect', o.timeoutMs);
    socket.setNoDelay(true);
    socket.on('data', reader.onData);
    socket.on('close', reader.onClose);
    const wait = (pred: (buf: string) => boolean, what: string) => reader.until(pred, what, o.timeoutMs);

    socket.write(header(o.domain));
    await wait((b) => b.includes(FEATURES_END), 'stream features');
    if (o.transport === 'starttls') {
      socket.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
      await wait((b) => b.includes('<proceed'), '<proceed/>');
      const raw = socket;
      raw.off('data', reader.onData);
      raw.off('close', reader.onClose);
      // No `session` option: every login is a full handshake, as a client's first connection is.
      socket = tls.connect({ socket: raw, servername: o.domain, rejectUnauthorized: false });
      socket.on('error', (err) => reader.fail(err));
      await connected(socket, 'secureConnect', o.timeoutMs);
      socket.on('data', reader.onData);
      socket.on('close', reader.onClose);
      socket.write(header(o.domain));
      await wait((b) => b.includes(FEATURES_END), 'stream features after STARTTLS');
    }
    await authenticate(o, socket, wait);
    socket.write(header(o.domain));
    await wait((b) => b.includes(FEATURES_END), 'stream features after SASL');
    const bind = o.resource === null ? '' : `<resource>${o.resource}</resource>`;
    socket.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>${bind}</bind></iq>`);
    const bound = await wait((b) => b.includes('</iq>') || /<iq[^>]*\/>/.test(b), 'bind result');
    const jid = elementText(bound, 'jid');
    if (!jid) throw new Error(`bind failed: ${bound.slice(0, 300)}`);
    if (o.presence) socket.write('<presence/>');
    socket.off('data', reader.onData);
    socket.off('close', reader.onClose);
    return { socket, jid, rest: bound.slice(bound.indexOf('</iq>') + 5) };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

type Wait = (pred: (buf: string) => boolean, what: string) => Promise<string>;

async function authenticate(o: LoginOptions, socket: net.Socket, wait: Wait): Promise<void> {
  const outcome = (b: string) => b.includes('<failure') || hasElement('success')(b);
  if (o.mechanism === 'PLAIN') {
    // RFC 4616: authzid NUL authcid NUL passwd.
    const initial = Buffer.from(`\0${o.username}\0${o.password}`).toString('base64');
    socket.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${initial}</auth>`);
    const reply = await wait(outcome, 'SASL outcome');
    if (!reply.includes('<success')) throw new Error(`SASL PLAIN failed: ${reply.slice(0, 300)}`);
    return;
  }
  const scram = new ScramClient(o.mechanism === 'SCRAM-SHA-1' ? 'SHA-1' : 'SHA-256', o.username, o.password, o.scramCache);
  socket.write(`<auth xmlns='${NS_SASL}' mechanism='${o.mechanism}'>${Buffer.from(scram.clientFirst()).toString('base64')}</auth>`);
  const challenge = await wait((b) => b.includes('</challenge>') || b.includes('<failure'), 'SCRAM challenge');
  if (!challenge.includes('</challenge>')) throw new Error(`${o.mechanism} failed: ${challenge.slice(0, 300)}`);
  const serverFirst = Buffer.from(elementText(challenge, 'challenge'), 'base64').toString('utf8');
  socket.write(`<response xmlns='${NS_SASL}'>${Buffer.from(scram.clientFinal(serverFirst)).toString('base64')}</response>`);
  const reply = await wait(outcome, 'SCRAM outcome');
  if (!reply.includes('<success')) throw new Error(`${o.mechanism} failed: ${reply.slice(0, 300)}`);
  const serverFinal = Buffer.from(elementText(reply, 'success'), 'base64').toString('utf8');
  if (!scram.verifyServerFinal(serverFinal)) throw new Error(`${o.mechanism}: server signature did not verify (${serverFinal})`);
}
