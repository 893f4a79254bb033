// The lean TLS engine (lean_tls.c): server-side TLS over a plain net.Socket, with OpenSSL's record
// buffers released while a connection is idle. See lean_tls.c for why it exists beside node:tls.
//
// LeanTlsSocket offers the part of the socket interface a client connection uses (data/close/error
// events, write, pause/resume, end/destroy) plus what SASL channel binding needs (getProtocol,
// exportKeyingMaterial), so C2sConnection treats it like a TLSSocket.
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { DEFAULT_CIPHERS } from 'node:tls';

type Handle = { readonly __leanTls: unique symbol };

interface LeanTlsBinding {
  createContext(key: string, cert: string, ciphers: string, groups: string | null, alpnXmppClient: boolean, handOff: boolean): Handle;
  newSession(ctx: Handle): Handle;
  feed(session: Handle, data: Buffer): Buffer | undefined;
  takeOutput(): Buffer;
  encrypt(session: Handle, data: string | Buffer): Buffer;
  shutdown(session: Handle): Buffer | undefined;
  free(session: Handle): void;
  exportKeyingMaterial(session: Handle, length: number, label: string, context?: Buffer): Buffer;
  protocol(session: Handle): string | null;
  alpn(session: Handle): string | null;
  recordLayer(session: Handle): 'openssl' | 'waddle' | null;
  lastError(): string;
  status(): Int32Array;
  detach(session: Handle): bigint;
  adopt(moved: bigint): Handle;
  discard(moved: bigint): void;
  dupFd(fd: number): number;
  closeFd(fd: number): void;
}

const ST_OUTPUT = 1;
const ST_SECURE = 2;
const ST_CLOSED = 4;
const ST_ERROR = 8;
const ST_HANDED_OFF = 16;

/** Where `npm ci` (scripts/build-native.ts) leaves the compiled addon. */
export const LEAN_TLS_ADDON = new URL('./build/Release/lean_tls.node', import.meta.url);

let binding: LeanTlsBinding | null | undefined;
let loadError: string | null = null;
let status: Int32Array = new Int32Array(1);

/** The addon, or null when it is not built (loadError() says why). Loaded once per thread. */
export function leanTls(): LeanTlsBinding | null {
  if (binding !== undefined) return binding;
  try {
    binding = createRequire(import.meta.url)(LEAN_TLS_ADDON.pathname) as LeanTlsBinding;
    status = binding.status();
  } catch (err) {
    binding = null;
    loadError = `the lean TLS addon is not built (${(err as Error).message.split('\n')[0]})`;
  }
  return binding;
}

export function leanTlsLoadError(): string | null {
  leanTls();
  return loadError;
}

/** node:tls's default TLS 1.2 cipher list (the TLS 1.3 suites are OpenSSL's defaults in both engines). */
const TLS12_CIPHERS = DEFAULT_CIPHERS.split(':')
  .filter((c) => !c.startsWith('TLS_'))
  .join(':');

export interface LeanTlsOptions {
  key: string;
  cert: string;
  /** OpenSSL groups list, null for OpenSSL's defaults. */
  groups: string | null;
  /** XEP-0368 direct TLS: negotiate ALPN 'xmpp-client' (and refuse other ALPN offers). */
  alpnXmppClient: boolean;
  /**
   * After a TLS 1.3 handshake, free OpenSSL's per-connection state and protect records with the addon's
   * own record layer (record_layer.c): ~20 KB less per idle connection. Default true.
   */
  handOff?: boolean;
}

export class LeanTlsContext {
  readonly handle: Handle;
  private readonly addon: LeanTlsBinding;

  constructor(options: LeanTlsOptions) {
    const addon = leanTls();
    if (addon === null) throw new Error(loadError ?? 'the lean TLS addon did not load');
    this.addon = addon;
    this.handle = addon.createContext(
      options.key,
      options.cert,
      TLS12_CIPHERS,
      options.groups,
      options.alpnXmppClient,
      options.handOff ?? true,
    );
  }

  /** Wraps an accepted plain socket; the TLS handshake starts with the first bytes the client sends. */
  wrap(raw: Socket): LeanTlsSocket {
    return new LeanTlsSocket(this.addon, raw, this.addon.newSession(this.handle));
  }
}

/**
 * A second descriptor for a connected socket, so another worker thread can take the connection over
 * (`new net.Socket({ fd })`) after this one destroys its handle; -1 when not possible (no addon, no fd).
 * Node has no dup(); `_handle.fd` is the libuv descriptor of a TCP handle (POSIX).
 */
export function duplicateSocketFd(raw: Socket): number {
  const addon = leanTls();
  const fd = (raw as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (addon === null || typeof fd !== 'number' || fd < 0) return -1;
  return addon.dupFd(fd);
}

/** Closes a descriptor from duplicateSocketFd that no socket took over. */
export function closeDuplicatedFd(fd: number): void {
  leanTls()?.closeFd(fd);
}

/** Frees TLS state from LeanTlsSocket.detachTls that will not be adopted. */
export function discardDetachedTls(moved: bigint): void {
  leanTls()?.discard(moved);
}

/** Continues a TLS connection on this thread: `raw` over the moved descriptor, `moved` from detachTls. */
export function adoptLeanTls(raw: Socket, moved: bigint): LeanTlsSocket {
  const addon = leanTls();
  if (addon === null) throw new Error(loadError ?? 'the lean TLS addon did not load');
  const socket = new LeanTlsSocket(addon, raw, addon.adopt(moved));
  socket.secure = true;
  return socket;
}

export class LeanTlsSocket extends EventEmitter {
  readonly raw: Socket;
  private readonly addon: LeanTlsBinding;
  private session: Handle | null;
  /** @internal set by adoptLeanTls */
  secure = false;

  constructor(addon: LeanTlsBinding, raw: Socket, session: Handle) {
    super();
    this.addon = addon;
    this.raw = raw;
    this.session = session;
    raw.on('data', (chunk: Buffer) => this.onCiphertext(chunk));
    raw.on('error', (err) => this.emit('error', err));
    raw.on('close', (hadError: boolean) => {
      this.release();
      this.emit('close', hadError);
    });
  }

  get destroyed(): boolean {
    return this.raw.destroyed;
  }

  get writableLength(): number {
    return this.raw.writableLength;
  }

  /** True once the handshake has completed. */
  get encrypted(): boolean {
    return this.secure;
  }

  get alpnProtocol(): string | false {
    return (this.session && this.addon.alpn(this.session)) || false;
  }

  /** Who protects records now: OpenSSL, or the addon's own record layer after a TLS 1.3 hand-off; null once closed. */
  get recordLayer(): 'openssl' | 'waddle' | null {
    return this.session === null ? null : this.addon.recordLayer(this.session);
  }

  getProtocol(): string | null {
    return this.session === null ? null : this.addon.protocol(this.session);
  }

  exportKeyingMaterial(length: number, label: string, context?: Buffer): Buffer {
    if (this.session === null) throw new Error('the TLS session is closed');
    return this.addon.exportKeyingMaterial(this.session, length, label, context);
  }

  write(data: string | Buffer, cb?: (err?: Error | null) => void): boolean {
    if (this.session === null || !this.secure) return false;
    let records: Buffer;
    try {
      records = this.addon.encrypt(this.session, data);
    } catch (err) {
      this.fail(err as Error);
      return false;
    }
    return cb === undefined ? this.raw.write(records) : this.raw.write(records, cb);
  }

  setNoDelay(noDelay?: boolean): this {
    this.raw.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.raw.setKeepAlive(enable, initialDelay);
    return this;
  }

  pause(): this {
    this.raw.pause();
    return this;
  }

  resume(): this {
    this.raw.resume();
    return this;
  }

  /** Sends close_notify, then ends the TCP stream. */
  end(): this {
    if (this.session !== null && !this.raw.destroyed) {
      const alert = this.addon.shutdown(this.session);
      if (alert !== undefined) this.raw.write(alert);
    }
    this.raw.end();
    return this;
  }

  destroy(): this {
    this.raw.destroy();
    this.release();
    return this;
  }

  /**
   * Takes the TLS state out of this socket for another thread (adoptLeanTls); this socket is closed for
   * TLS afterwards. The caller has stopped reading and flushed every write.
   */
  detachTls(): bigint {
    if (this.session === null) throw new Error('the TLS session is closed');
    const moved = this.addon.detach(this.session);
    this.session = null;
    return moved;
  }

  /** Ciphertext read from the raw socket elsewhere (bytes that arrived before a move), fed as if just read. */
  feedCiphertext(chunk: Buffer): void {
    this.onCiphertext(chunk);
  }

  private onCiphertext(chunk: Buffer): void {
    const session = this.session;
    if (session === null) return;
    const plaintext = this.addon.feed(session, chunk);
    const st = status[0] as number;
    // Output first (handshake messages, tickets, alerts): the 'data' handlers below may write, and the
    // peer must see our handshake before any application data.
    if (st & ST_OUTPUT) this.raw.write(this.addon.takeOutput());
    if (st & ST_SECURE) {
      this.secure = true;
      this.emit('secure');
    }
    if (st & ST_HANDED_OFF) this.emit('handOff');
    if (plaintext !== undefined) this.emit('data', plaintext);
    if (st & ST_ERROR) this.fail(new Error(`TLS: ${this.addon.lastError()}`));
    else if (st & ST_CLOSED) this.end(); // the client's close_notify: answer it and close
  }

  private fail(err: Error): void {
    if (this.raw.destroyed) return;
    this.emit('error', err);
    // Let the alert (already queued, if any) go out before the socket closes.
    this.raw.end();
    this.release();
    setTimeout(() => this.raw.destroy(), 1_000).unref();
  }

  private release(): void {
    if (this.session === null) return;
    this.addon.free(this.session);
    this.session = null;
  }
}
