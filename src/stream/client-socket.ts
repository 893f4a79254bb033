// What a client connection needs of its socket. Plain `net.Socket`, node:tls `TLSSocket` and the lean TLS
// engine's `LeanTlsSocket` (src/tls/lean) all fit, so C2sConnection does not care which carries it.
export interface ClientSocket {
  write(data: string, cb?: (err?: Error | null) => void): boolean;
  readonly writableLength: number;
  readonly destroyed: boolean;
  pause(): unknown;
  resume(): unknown;
  end(): unknown;
  destroy(): unknown;
  setNoDelay(noDelay?: boolean): unknown;
  setKeepAlive(enable?: boolean, initialDelay?: number): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close', listener: (hadError: boolean) => void): unknown;
  removeAllListeners(event: 'data'): unknown;
}

/** The server side of an established TLS channel, as SASL channel binding (RFC 5056) reads it. */
export interface TlsChannel {
  getProtocol(): string | null;
  exportKeyingMaterial(length: number, label: string, context: Buffer): Buffer;
  /** node:tls only; the lean engine's callers always pass the precomputed end-point data. */
  getX509Certificate?(): import('node:crypto').X509Certificate | undefined;
}
