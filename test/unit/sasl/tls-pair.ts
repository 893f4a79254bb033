// A real TLS connection on 127.0.0.1 for channel-binding tests: both ends in this process, so a test can
// compute the binding on the client side independently and compare with what the server side produced.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { type SecureVersion, type TLSSocket, connect, createServer } from 'node:tls';

export interface TlsPair {
  /** The server's end: what the SASL layer sees. */
  server: TLSSocket;
  /** The client's end (certificate not verified: self-signed test certificates). */
  client: TLSSocket;
  close(): void;
}

export async function tlsPair(opts: { key: string; cert: string; maxVersion?: SecureVersion }): Promise<TlsPair> {
  const listener = createServer({ key: opts.key, cert: opts.cert, ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}) });
  const accepted = once(listener, 'secureConnection') as Promise<[TLSSocket]>;
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as AddressInfo;
  const client = connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  await once(client, 'secureConnect');
  const [server] = await accepted;
  return {
    server,
    client,
    close() {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}
