// The edge side: this shard's listeners (every shard listens on the same ports with SO_REUSEPORT,
// so the kernel spreads connections and no thread touches every connection) and the connections it
// accepted. See docs/ARCHITECTURE.md for why sockets are accepted here and not in the primary.
import net from 'node:net';
import tls from 'node:tls';
import { C2sConnection } from '../stream/c2s-connection.ts';
import type { ConnectionHandle, EdgeServices } from '../stream/edge-services.ts';
import { tlsGroups } from '../tls/groups.ts';

export class EdgeListeners {
  private readonly servers: net.Server[] = [];
  readonly connections = new Map<number, ConnectionHandle>();
  private sweep: NodeJS.Timeout | undefined;
  private paused = false;
  /** Set by closeAll (shutdown): a connection that arrives later (moved in from another shard) is closed too. */
  private closedWith: [string, string | undefined] | null = null;

  /** Listens on the plain (STARTTLS) and direct-TLS ports. Resolves once both are bound. */
  async listen(services: EdgeServices): Promise<void> {
    const { c2s } = services.config;
    const plain = net.createServer({ noDelay: true }, (socket) => this.accept(new C2sConnection(socket, 'tcp', services)));
    // XEP-0368: direct TLS with ALPN 'xmpp-client'.
    const lean = services.leanTls;
    let direct: net.Server;
    if (lean !== null) {
      direct = net.createServer({ noDelay: true }, (raw) => this.accept(new C2sConnection(lean.direct.wrap(raw), 'tls', services)));
    } else {
      direct = tls.createServer({ ...services.tlsCredentials, ...tlsGroups(services.config), ALPNProtocols: ['xmpp-client'] }, (socket) =>
        this.accept(new C2sConnection(socket, 'tls', services)),
      );
      direct.on('tlsClientError', (err) => {
        services.metrics.tlsHandshakes.inc({ engine: 'node', result: 'failed' });
        services.log.debug({ err }, 'TLS handshake failed');
      });
    }
    for (const [server, port] of [
      [plain, c2s.port],
      [direct, c2s.tlsPort],
    ] as const) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: c2s.host, port, reusePort: true, backlog: 4096 }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.servers.push(server);
    }
    // Idle detection granularity: a few seconds, finer when the idle timeout itself is short.
    const sweepMs = Math.min(5_000, (services.config.c2s.idleTimeoutSec * 1000) / 2);
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const conn of this.connections.values()) conn.tick(now);
    }, sweepMs);
    this.sweep.unref();
  }

  /** A connection accepted here or moved in from another shard. */
  accept(conn: ConnectionHandle): void {
    if (this.closedWith) conn.close(...this.closedWith);
    else if (this.paused) conn.pause();
  }

  /** Mesh backpressure: stop reading from every socket until the rings drain. */
  pauseAll(): void {
    this.paused = true;
    for (const conn of this.connections.values()) conn.pause();
  }

  resumeAll(): void {
    this.paused = false;
    for (const conn of this.connections.values()) conn.resume();
  }

  /** Stops accepting; existing connections stay until closeAll. */
  stopAccepting(): void {
    clearInterval(this.sweep);
    for (const s of this.servers) s.close();
  }

  /** Resolves when every connection has closed, or after `ms`. */
  async drained(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  closeAll(condition: string, text?: string): void {
    this.closedWith = [condition, text];
    for (const conn of [...this.connections.values()]) conn.close(condition, text);
  }
}
