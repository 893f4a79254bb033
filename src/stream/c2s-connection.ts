// RFC 6120 client-to-server stream on the edge shard: header, STARTTLS (§5), SASL (§6), resource
// binding (§7), then forwarding of stanzas to the session's home shard. The connection holds no
// session state (presence, roster): that belongs to the home shard.
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { LeanTlsSocket, duplicateSocketFd, leanTls } from '../tls/lean/index.ts';
import { getTracer } from '../telemetry/tracing.ts';
import { StreamError } from '../xmpp/errors.ts';
import { normalizeLocal } from '../xmpp/jid.ts';
import { NS } from '../xmpp/ns.ts';
import { StreamParser } from '../xmpp/stream-parser.ts';
import { type Element, escapeXml, xml } from '../xmpp/xml.ts';
import type { ClientSocket, TlsChannel } from './client-socket.ts';
import type { BindResult, ConnectionHandle, EdgeServices } from './edge-services.ts';
import { type ChannelBinding, offeredMechanisms, SaslNegotiation } from './sasl-negotiation.ts';
import { availableChannelBindings, channelBindingData } from './sasl/channel-binding.ts';
import { Sasl2Flow, sasl2Feature } from './sasl2-flow.ts';
import { handlePreAuthRegister } from './pre-auth-register.ts';
import { type MovedConnection, type MovedStream, readBuffered, stopReading } from './connection-move.ts';

const PRE_AUTH_TIMEOUT_MS = 60_000;
/** How long an idle client has to answer the server's ping (shorter if the idle timeout is shorter). */
const PING_GRACE_MS = 30_000;
const STANZA_KINDS = new Set(['message', 'presence', 'iq']);
/**
 * Output queued for a client that does not read. Past this the stream is closed with
 * <resource-constraint/>, so a stalled reader cannot make the server's memory grow without bound.
 */
const MAX_UNSENT_BYTES = 16 * 1024 * 1024;
/** Elements a client may send while its session is being bound or resumed on the home shard. */
const MAX_HELD = 1000;

export type Transport = 'tcp' | 'tls';

/** Connections of this thread with output written since the last flush, flushed once per loop iteration. */
const pendingFlush: C2sConnection[] = [];
let flushScheduled = false;

/**
 * Past this many connections waiting, flush now: holding output for a whole poll phase that read hundreds
 * of sockets kept that much more garbage alive across scavenges (direct TLS 1,000 × 4: V8's GC threads
 * from 2% to 5-6% each, +20% CPU per message), while a group chat fan-out touches far fewer.
 */
const MAX_PENDING_FLUSH = 128;

function scheduleFlush(conn: C2sConnection): void {
  pendingFlush.push(conn);
  if (pendingFlush.length >= MAX_PENDING_FLUSH) flushPending();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushScheduledPending);
  }
}

function flushScheduledPending(): void {
  flushScheduled = false;
  flushPending();
}

function flushPending(): void {
  // Index loop: a flush never adds to the list (socket writes do not call send), but stay safe if it did.
  for (let i = 0; i < pendingFlush.length; i++) (pendingFlush[i] as C2sConnection).flush();
  pendingFlush.length = 0;
}

/** How long a moving connection may take to flush its output before the move gives up. */
const MOVE_FLUSH_TIMEOUT_MS = 10_000;

export class C2sConnection implements ConnectionHandle {
  readonly id: number;
  private readonly s: EdgeServices;
  private socket: ClientSocket;
  private readonly parser: StreamParser;
  private encrypted: boolean;
  private readonly transport: Transport;
  private headerSent = false;
  private username: string | null = null;
  private bound: BindResult | null = null;
  private binding = false;
  private sasl: SaslNegotiation | null = null;
  private sasl2: Sasl2Flow | null = null;
  private cb: (ChannelBinding & { socket: TlsChannel }) | null = null;
  /**
   * Elements that arrived while the home shard was binding or resuming this session. The home writes
   * <resumed/> or the SASL2 <success/> itself, so the client may answer before the rpc's reply reaches
   * this edge; those elements wait here instead of being refused as "not bound yet".
   */
  private held: Element[] | null = null;
  private closing = false;
  private lastActivity = Date.now();
  private readonly openedAt = Date.now();
  private pingSentAt = 0;
  /** Text written during this turn, not yet handed to the socket (see send). */
  private unsent = '';
  private streamId = '';
  /**
   * Moving to the session's home shard (`c2s.move_to_home`, see connection-move.ts): 'wanted' once bound
   * elsewhere, 'offered' when reading stopped between two stanzas and the home was asked, 'gone' after.
   */
  private move: 'no' | 'wanted' | 'offered' | 'gone' = 'no';
  /** Inside the socket's data handler (the parser is mid-chunk, so not at a boundary to move from). */
  private inData = false;

  /** `moved`: the stream continues here after another shard's connection moved (MoveIn); else a new one. */
  constructor(socket: ClientSocket, transport: Transport, services: EdgeServices, moved?: MovedStream) {
    this.s = services;
    this.id = services.nextConnectionId();
    this.socket = socket;
    this.transport = transport;
    this.encrypted = transport === 'tls';
    this.parser = new StreamParser(
      {
        onStreamStart: (name, attrs) => this.onStreamStart(name, attrs),
        onStanza: (el) => this.onElement(el),
        onStreamEnd: () => this.close(),
        onError: (err) => this.fail(err),
      },
      { maxStanzaBytes: services.config.c2s.maxStanzaBytes },
    );
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000); // half-open TCP detection, alongside the idle ping in tick()
    this.attach(socket);
    if (moved) {
      this.encrypted = moved.encrypted;
      this.headerSent = true;
      this.username = moved.username;
      this.bound = { full: moved.full, home: services.shard };
      this.streamId = moved.streamId;
      this.lastActivity = moved.lastActivity;
      this.parser.continueStream(moved.root.name, moved.root.attrs);
    } else if (socket instanceof LeanTlsSocket) this.countHandshake(socket, 'lean');
    else if (socket instanceof TLSSocket) services.metrics.tlsHandshakes.inc({ engine: 'node', result: 'ok' }); // tls.Server: done
    socket.on('close', () => this.onClosed());
    services.register(this);
    services.metrics.connections.inc({ transport: this.transportLabel() });
  }

  /** The connections gauge's label: STARTTLS connections count apart from direct TLS. */
  private transportLabel(): 'tcp' | 'tls' | 'starttls' {
    return this.encrypted && this.transport === 'tcp' ? 'starttls' : this.transport;
  }

  get home(): number | undefined {
    return this.bound?.home;
  }

  get log() {
    return this.s.log;
  }

  private attach(socket: ClientSocket): void {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err, conn: this.id }, 'socket error'));
  }

  /** Bytes from the socket (plaintext: TLS is below). */
  onData(chunk: Buffer): void {
    this.lastActivity = Date.now();
    this.pingSentAt = 0;
    this.inData = true;
    this.parser.write(chunk);
    this.inData = false;
    if (this.move === 'wanted') this.offerMove();
  }

  write(text: string): void {
    if (this.closing) return;
    this.send(text);
    if (this.socket.writableLength + this.unsent.length > MAX_UNSENT_BYTES)
      this.fail(new StreamError('resource-constraint', 'the client is not reading'));
  }

  private send(text: string): void {
    if (this.socket.destroyed) return;
    // Everything written in one event-loop iteration goes to the socket as one string: one TLS record /
    // TCP segment, and one write through Node's stream machinery instead of a corked chunk per stanza
    // flattened by writev (the write path is ~1/3 of a routed message's CPU: bench/RESULTS.md). The flush
    // runs after the poll phase (setImmediate), not after each I/O callback (nextTick): a group chat
    // message read from each of 5 senders in one poll then reaches an occupant as one write, not five.
    const first = this.unsent === '';
    this.unsent += text;
    if (first) scheduleFlush(this);
  }

  /** Hands what was written since the last flush to the socket (also called by flushPending). */
  flush(): void {
    const text = this.unsent;
    if (text === '') return;
    this.unsent = '';
    if (!this.socket.destroyed) this.socket.write(text);
  }

  private writeElement(el: Element): void {
    this.write(el.toString());
  }

  private onStreamStart(name: string, attrs: Record<string, string>): void {
    this.streamId = crypto.randomUUID();
    const to = attrs.to;
    const header = `<?xml version='1.0'?><stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAM}' id='${this.streamId}' from='${escapeXml(this.s.config.domain)}' version='1.0' xml:lang='en'>`;
    this.write(header);
    this.headerSent = true;
    // RFC 6120 §4.8: the stream namespace and the content namespace are checked before anything else.
    if (name !== 'stream:stream' || attrs['xmlns:stream'] !== NS.STREAM) return this.fail(new StreamError('invalid-namespace'));
    if (attrs.xmlns !== NS.CLIENT) return this.fail(new StreamError('invalid-namespace', 'this port serves jabber:client'));
    if (to === undefined || to.toLowerCase() !== this.s.config.domain)
      return this.fail(new StreamError('host-unknown', `this server serves ${this.s.config.domain}`));
    if (!attrs.version || Number.parseFloat(attrs.version) < 1) return this.fail(new StreamError('unsupported-version'));
    this.writeElement(this.features());
  }

  private features(): Element {
    const f = xml('stream:features');
    if (!this.encrypted) {
      const starttls = xml('starttls', { xmlns: NS.TLS });
      if (this.s.config.c2s.requireTls) starttls.append(xml('required'));
      f.append(starttls);
    }
    if (this.username === null) {
      if (this.encrypted || !this.s.config.c2s.requireTls) {
        const cb = this.channelBinding();
        f.append(xml('mechanisms', { xmlns: NS.SASL }, ...offeredMechanisms(this.encrypted, cb).map((m) => xml('mechanism', {}, m))));
        // XEP-0440: which channel-binding types this connection can prove, for SCRAM-*-PLUS.
        if (cb && cb.types.length > 0)
          f.append(xml('sasl-channel-binding', { xmlns: NS.SASL_CB }, ...cb.types.map((type) => xml('channel-binding', { type }))));
        f.append(sasl2Feature(this.s, this.encrypted, cb));
        if (this.s.config.registration) f.append(xml('register', { xmlns: NS.REGISTER_FEATURE }));
      }
      return f;
    }
    f.append(xml('bind', { xmlns: NS.BIND }, xml('required')));
    // RFC 6121 legacy session establishment: advertised as optional so old clients still send it.
    f.append(xml('session', { xmlns: NS.SESSION }, xml('optional')));
    for (const extra of this.s.streamFeatures()) f.append(extra);
    return f;
  }

  private onElement(el: Element): void {
    if (this.closing) return;
    if (this.held) return this.hold(el);
    if (this.bound) return this.forward(el);
    const ns = el.attrs.xmlns as string | undefined;
    if (el.name === 'starttls' && ns === NS.TLS) return this.startTls();
    if (!this.encrypted && this.s.config.c2s.requireTls) {
      if (el.name === 'auth' && ns === NS.SASL) {
        this.writeElement(xml('failure', { xmlns: NS.SASL }, xml('encryption-required')));
        return;
      }
      return this.fail(new StreamError('policy-violation', 'STARTTLS is required'));
    }
    if (this.username === null) {
      if (ns === NS.SASL) return void this.onSasl(el);
      if (ns === NS.SASL2) return void this.onSasl2(el).catch((err) => this.internalError(err));
      if (el.name === 'iq' && this.s.config.registration && el.getChild('query', NS.REGISTER)) {
        return void handlePreAuthRegister(el, this.s, (reply) => this.writeElement(reply)).catch((err) => this.internalError(err));
      }
      return this.fail(new StreamError('not-authorized'));
    }
    if (el.name === 'iq' && el.attrs.type === 'set' && el.getChild('bind', NS.BIND)) {
      return void this.bind(el).catch((err) => this.internalError(err));
    }
    // XEP-0198 §5: <resume/> takes the place of binding; <enable/> needs a bound resource first (§4).
    if (el.name === 'resume' && ns === NS.SM) return void this.resumeSession(el).catch((err) => this.internalError(err));
    if (el.name === 'enable' && ns === NS.SM) {
      this.write(`<failed xmlns='${NS.SM}'><unexpected-request xmlns='${NS.STANZAS}'/></failed>`);
      return;
    }
    // RFC 6120 §7.1: nothing but binding is allowed between authentication and binding.
    this.fail(new StreamError('not-authorized', 'bind a resource first'));
  }

  private startTls(): void {
    if (this.encrypted) return this.fail(new StreamError('policy-violation', 'TLS is already on'));
    const raw = this.socket as Socket;
    raw.removeAllListeners('data');
    // RFC 6120 §5.4.3.3: a new stream starts over TLS. Reset now, from inside the parser's callback, so the
    // rest of this plaintext chunk is dropped: bytes pipelined behind <starttls/> must never count as sent
    // over TLS (the classic STARTTLS command injection).
    this.parser.reset();
    this.flush();
    const lean = this.s.leanTls;
    if (lean !== null) {
      // The lean engine reads the same socket's bytes, so <proceed/> only has to be queued before the
      // handshake's first answer, which raw.write's ordering guarantees.
      raw.write(`<proceed xmlns='${NS.TLS}'/>`);
      this.useTls(lean.starttls.wrap(raw), raw);
    } else {
      // node:tls takes over the socket's handle, so <proceed/> must be on the wire (not in a corked
      // buffer) and nothing may be read in between: the client sends its ClientHello only after <proceed/>.
      raw.pause();
      raw.write(`<proceed xmlns='${NS.TLS}'/>`, () => {
        if (raw.destroyed) return;
        this.useTls(new TLSSocket(raw, { isServer: true, secureContext: this.s.secureContext }), raw);
      });
    }
    this.encrypted = true;
    this.s.metrics.connections.dec({ transport: this.transport });
    this.s.metrics.connections.inc({ transport: 'starttls' });
  }

  private useTls(secure: TLSSocket | LeanTlsSocket, raw: Socket): void {
    this.socket = secure;
    this.attach(secure);
    this.countHandshake(secure, secure instanceof LeanTlsSocket ? 'lean' : 'node');
    secure.on('error', (err: Error) => {
      this.log.debug({ err, conn: this.id }, 'TLS error');
      raw.destroy();
    });
  }

  private async onSasl(el: Element): Promise<void> {
    if (!this.sasl)
      this.sasl = new SaslNegotiation(this.s, {
        encrypted: this.encrypted,
        profile: 'rfc6120',
        channelBinding: this.channelBinding(),
        fast: false,
      });
    const outcome = await this.sasl.handle(el);
    if (this.closing) return;
    if (outcome.kind === 'success') {
      if (outcome.reply) this.writeElement(outcome.reply);
      this.username = outcome.username;
      this.sasl = null;
      this.parser.reset(); // RFC 6120 §6.4.6: the client opens a new stream after <success/>
      return;
    }
    this.writeElement(outcome.reply);
    if (outcome.tooManyFailures) this.fail(new StreamError('policy-violation', 'too many failed authentication attempts'));
  }

  private hold(el: Element): void {
    const held = this.held as Element[];
    if (held.length >= MAX_HELD) return this.fail(new StreamError('policy-violation', 'too much sent before the session was ready'));
    held.push(el);
  }

  private holdInput(): void {
    this.held ??= [];
  }

  private releaseInput(): void {
    const held = this.held;
    this.held = null;
    if (held) for (const el of held) this.onElement(el);
  }

  private countHandshake(secure: TLSSocket | LeanTlsSocket, engine: 'lean' | 'node'): void {
    let settled = false;
    const count = (result: 'ok' | 'failed') => {
      if (!settled) this.s.metrics.tlsHandshakes.inc({ engine, result });
      settled = true;
    };
    secure.once('secure', () => count('ok'));
    secure.on('error', () => count('failed'));
    if (engine === 'lean') secure.once('handOff', () => this.s.metrics.tlsHandOffs.inc());
  }

  /** The TLS channel's binding data (XEP-0440), computed once per TLS session. */
  private channelBinding(): ChannelBinding | null {
    const socket = this.socket;
    if (!(socket instanceof TLSSocket || socket instanceof LeanTlsSocket)) return null;
    if (this.cb?.socket !== socket) {
      const endPoint = this.s.serverEndPoint;
      this.cb = {
        socket,
        types: availableChannelBindings(socket, endPoint),
        data: (type) => channelBindingData(socket, type, endPoint),
      };
    }
    return this.cb;
  }

  /** XEP-0388: SASL2, with binding, resumption and tokens inline; no stream restart afterwards. */
  private async onSasl2(el: Element): Promise<void> {
    if (!this.sasl2) {
      const conn = this;
      this.sasl2 = new Sasl2Flow(
        this.s,
        {
          id: this.id,
          get closing() {
            return conn.closing;
          },
          write: (text) => this.write(text),
          fail: (err) => this.fail(err),
          hold: () => this.holdInput(),
          release: () => this.releaseInput(),
          authenticated: (username, bound) => {
            this.username = username;
            this.sasl2 = null;
            if (bound) {
              this.bound = bound;
              this.s.log.info({ jid: bound.full, conn: this.id, home: bound.home, tls: this.encrypted, sasl2: true }, 'session bound');
            }
            this.releaseInput();
            this.wantMove();
          },
        },
        { encrypted: this.encrypted, channelBinding: this.channelBinding() },
      );
    }
    await this.sasl2.handle(el);
  }

  private async bind(iq: Element): Promise<void> {
    if (this.binding || this.username === null) return;
    this.binding = true;
    this.holdInput(); // a client may pipeline stanzas right behind its bind request
    const requested = iq.getChild('bind', NS.BIND)?.getChildText('resource') ?? null;
    const bare = `${normalizeLocal(this.username)}@${this.s.config.domain}`;
    const id = String(iq.attrs.id ?? '');
    const span = getTracer().startSpan('xmpp.c2s.bind', { attributes: { 'xmpp.jid': bare, 'xmpp.shard': this.s.shard } });
    const answer = (await this.s.call(bare, 'session.bind', {
      bare,
      resource: requested,
      edge: this.s.shard,
      connId: this.id,
    })) as { ok: true; full: string; home: number } | { ok: false; condition: string };
    span.setAttribute('xmpp.bind.ok', answer.ok);
    if (answer.ok) span.setAttribute('xmpp.home_shard', answer.home);
    span.end();
    this.binding = false;
    if (this.closing) {
      if (answer.ok) this.s.sessionEnd(answer.home, this.id, true);
      return;
    }
    if (!answer.ok) {
      this.writeElement(xml('iq', { type: 'error', id }, xml('error', { type: 'modify' }, xml(answer.condition, { xmlns: NS.STANZAS }))));
      this.releaseInput();
      return;
    }
    this.bound = { full: answer.full, home: answer.home };
    this.s.log.info({ jid: answer.full, conn: this.id, home: answer.home, tls: this.encrypted }, 'session bound');
    this.writeElement(xml('iq', { type: 'result', id }, xml('bind', { xmlns: NS.BIND }, xml('jid', {}, answer.full))));
    this.releaseInput();
    this.wantMove();
  }

  /** XEP-0198 §5: resumes a detached session (kept by its home shard) on this connection. */
  private async resumeSession(el: Element): Promise<void> {
    if (this.binding || this.username === null) return;
    this.binding = true;
    this.holdInput();
    const bare = `${normalizeLocal(this.username)}@${this.s.config.domain}`;
    const answer = (await this.s.call(bare, 'sm.resume', {
      bare,
      previd: String(el.attrs.previd ?? ''),
      h: Number(el.attrs.h ?? Number.NaN),
      edge: this.s.shard,
      connId: this.id,
    })) as { ok: true; full: string; home: number } | { ok: false; h: number | null; condition: string };
    this.binding = false;
    if (this.closing) {
      this.held = null;
      if (answer.ok) this.s.sessionEnd(answer.home, this.id, false);
      return;
    }
    if (!answer.ok) {
      const h = answer.h === null ? '' : ` h='${answer.h}'`;
      this.write(`<failed xmlns='${NS.SM}'${h}><${answer.condition} xmlns='${NS.STANZAS}'/></failed>`);
      this.releaseInput();
      return;
    }
    // The home shard has already written <resumed/> and the unacknowledged stanzas to this connection.
    this.bound = { full: answer.full, home: answer.home };
    this.s.log.info({ jid: answer.full, conn: this.id, home: answer.home }, 'session resumed');
    this.releaseInput();
    this.wantMove();
  }

  private forward(el: Element): void {
    const bound = this.bound as BindResult;
    if (STANZA_KINDS.has(el.name)) {
      const from = el.attrs.from as string | undefined;
      // RFC 6120 §8.1.2.1: a 'from' other than the session's own JID is answered with invalid-from.
      if (from !== undefined && from !== bound.full && from !== bound.full.slice(0, bound.full.indexOf('/'))) {
        return this.fail(new StreamError('invalid-from'));
      }
    }
    this.s.sessionIn(bound.home, this.id, el);
  }

  // ---- Moving to the home shard (connection-move.ts has the protocol) ----

  /** The plain socket under this connection, if this connection can move (node:tls state cannot). */
  private movableSocket(): Socket | null {
    if (this.socket instanceof LeanTlsSocket) return this.socket.raw;
    return this.socket instanceof Socket && !(this.socket instanceof TLSSocket) ? this.socket : null;
  }

  private wantMove(): void {
    const bound = this.bound;
    if (bound === null || bound.home === this.s.shard || this.move !== 'no' || !this.s.config.c2s.moveToHome) return;
    if (this.movableSocket() === null || leanTls() === null) return; // the descriptor is duplicated by the addon
    this.move = 'wanted';
    this.offerMove();
  }

  /** Stops reading and asks the home to take the connection, once the parser is between stanzas. */
  private offerMove(): void {
    const raw = this.movableSocket();
    if (this.inData || this.closing || this.held !== null || raw === null || !this.parser.atBoundary()) return;
    stopReading(raw);
    this.move = 'offered';
    this.s.moveOffer((this.bound as BindResult).home, this.id);
  }

  /** The home's answer to our offer: it now holds our writes (accepted), or the connection stays here. */
  moveAnswered(accepted: boolean): void {
    if (this.move !== 'offered' || this.closing) return;
    if (!accepted) {
      this.move = 'no';
      this.socket.resume();
      return;
    }
    this.flush();
    this.handOver().catch((err) => this.internalError(err));
  }

  private async handOver(): Promise<void> {
    const raw = this.movableSocket() as Socket;
    // Everything written so far must be in the kernel before the descriptor changes hands.
    const deadline = Date.now() + MOVE_FLUSH_TIMEOUT_MS;
    while (raw.writableLength > 0 && !raw.destroyed && !this.closing) {
      if (Date.now() > deadline) return this.fail(new StreamError('connection-timeout', 'the client is not reading'));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    if (this.closing || raw.destroyed) return; // onClosed told the home
    const fd = duplicateSocketFd(raw);
    if (fd < 0) return this.internalError(new Error('cannot duplicate the socket descriptor'));
    const tls = this.socket instanceof LeanTlsSocket ? this.socket.detachTls() : null;
    const pending = readBuffered(raw);
    const root = this.parser.streamRoot() as MovedStream['root'];
    const bound = this.bound as BindResult;
    const moved: MovedConnection = {
      fd,
      tls: tls === null ? null : tls.toString(),
      pending: pending === null ? '' : pending.toString('base64'),
      transport: this.transport,
      encrypted: this.encrypted,
      username: this.username as string,
      full: bound.full,
      streamId: this.streamId,
      root,
      lastActivity: this.lastActivity,
    };
    // Forget the connection here, silently: no SessionEnd, the home goes on with it.
    this.move = 'gone';
    this.closing = true;
    this.parser.end();
    raw.removeAllListeners();
    raw.on('error', () => {});
    raw.destroy(); // closes this thread's descriptor only; the duplicate keeps the connection open
    this.s.unregister(this);
    this.s.metrics.connections.dec({ transport: this.transportLabel() });
    this.s.moveIn(bound.home, this.id, moved);
  }

  /** Bytes this connection's previous shard had read but not parsed; fed before anything newly read. */
  injectMovedInput(pending: Buffer): void {
    if (pending.length === 0) return;
    if (this.socket instanceof LeanTlsSocket) this.socket.feedCiphertext(pending);
    else this.onData(pending);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.closing && this.move !== 'offered') this.socket.resume();
  }

  tick(now: number): void {
    if (this.closing || this.move === 'offered') return;
    if (!this.bound) {
      if (now - this.openedAt > PRE_AUTH_TIMEOUT_MS) this.fail(new StreamError('connection-timeout', 'authentication took too long'));
      return;
    }
    const idleMs = this.s.config.c2s.idleTimeoutSec * 1000;
    if (this.pingSentAt && now - this.pingSentAt > Math.min(PING_GRACE_MS, idleMs)) {
      this.fail(new StreamError('connection-timeout'));
    } else if (!this.pingSentAt && now - this.lastActivity > idleMs) {
      // XEP-0199 §4.2: the server pings an idle client; any traffic counts as an answer.
      this.pingSentAt = now;
      this.write(`<iq type='get' id='idle-${now}' from='${escapeXml(this.s.config.domain)}'><ping xmlns='${NS.PING}'/></iq>`);
    }
  }

  private internalError(err: unknown): void {
    this.log.error({ err, conn: this.id }, 'connection handler failed');
    this.fail(new StreamError('internal-server-error'));
  }

  private fail(err: StreamError): void {
    this.s.metrics.streamErrors.inc({ condition: err.condition });
    const fields = { conn: this.id, jid: this.bound?.full, condition: err.condition, text: err.text };
    // Our own failures (a handler that threw inside the parser's callbacks) are bugs: log them loudly,
    // with the cause, so they show at the operator's usual 'warn' level. Client errors stay at info.
    if (err.condition === 'internal-server-error') this.log.error({ ...fields, err: err.cause ?? err }, 'stream error');
    else this.log.info(fields, 'stream error');
    this.close(err.condition, err.text);
  }

  /** Ends the stream: with an error condition, or cleanly ('' / undefined). */
  close(condition?: string, text?: string): void {
    if (this.closing) return;
    this.closing = true;
    if (!this.headerSent) {
      this.send(
        `<?xml version='1.0'?><stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAM}' id='${crypto.randomUUID()}' from='${escapeXml(this.s.config.domain)}' version='1.0'>`,
      );
      this.headerSent = true;
    }
    if (condition) this.send(new StreamError(condition as StreamError['condition'], text).toXml());
    this.send('</stream:stream>');
    this.flush();
    this.parser.end();
    this.socket.end();
    // RFC 6120 §4.4: wait a little for the peer's closing tag, then stop waiting.
    setTimeout(() => this.socket.destroy(), 2_000).unref();
  }

  private onClosed(): void {
    // Clean: either side closed the stream before the socket went. Otherwise the connection dropped,
    // and a session with XEP-0198 resumption enabled waits for the client to come back.
    if (this.move === 'gone') return;
    const clean = this.closing;
    this.closing = true;
    this.s.unregister(this);
    this.s.metrics.connections.dec({ transport: this.transportLabel() });
    if (this.bound) this.s.sessionEnd(this.bound.home, this.id, clean);
  }
}
