// What a client connection needs from the shard it was accepted on (its "edge"). The connection
// never touches session state: that lives on the home shard of its JID, reached through `call`
// (requests) and `sessionIn` (stanzas).
import type { SecureContext } from 'node:tls';
import type { Config } from '../config/schema.ts';
import type { LeanTlsContexts } from '../tls/engine.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ShardMetrics } from '../telemetry/metrics.ts';
import type { ShardId } from '../transport/channel.ts';
import type { Element } from '../xmpp/xml.ts';

export interface BindResult {
  full: string;
  home: ShardId;
}

export interface EdgeServices {
  readonly shard: ShardId;
  readonly config: Config;
  readonly secureContext: SecureContext;
  /** The lean TLS engine's contexts (src/tls/lean), or null when `[tls] engine` resolved to node:tls. */
  readonly leanTls: LeanTlsContexts | null;
  /** The PEM key and certificate (tls.Server builds its own context from them). */
  /** Stable across shards and restarts, so SCRAM answers for unknown users do not vary. */
  readonly secret: string;
  readonly tlsCredentials: { key: string; cert: string };
  /** RFC 5929 tls-server-end-point data of that certificate (null: undefined for it), computed once. */
  readonly serverEndPoint: Buffer | null;
  readonly log: Logger;
  readonly metrics: ShardMetrics;
  /** Post-authentication stream features contributed by modules. */
  streamFeatures(): Element[];
  /** XEP-0386 features a client may enable inline when binding. */
  bind2Features(): string[];
  /** Whether some module answers this rpc (e.g. 'sm.resume' when stream management is loaded). */
  hasRpc(method: string): boolean;
  /** An rpc on the shard owning the bare JID `key`. */
  call(key: string, method: string, params: unknown): Promise<unknown>;
  /** Forwards a client stanza of a bound connection to its session's home shard. */
  sessionIn(home: ShardId, connId: number, stanza: Element): void;
  /** Tells the home shard that a bound connection is gone; `clean` if the stream was closed, not dropped. */
  sessionEnd(home: ShardId, connId: number, clean: boolean): void;
  /** Offers bound connection `connId` to its home shard (connection-move.ts, step 1). */
  moveOffer(home: ShardId, connId: number): void;
  /** Hands connection `connId` over to its home shard (step 3); this shard has forgotten it. */
  moveIn(home: ShardId, connId: number, moved: import('./connection-move.ts').MovedConnection): void;
  /** Allocates a connection id, unique on this shard. */
  nextConnectionId(): number;
  register(conn: ConnectionHandle): void;
  unregister(conn: ConnectionHandle): void;
}

export interface ConnectionHandle {
  readonly id: number;
  /** The home shard of the bound session, once bound. */
  readonly home: ShardId | undefined;
  write(xml: string): void;
  close(condition?: string, text?: string): void;
  /** Stops and restarts reading from the socket (mesh backpressure). */
  pause(): void;
  resume(): void;
  /** The home's answer to this connection's move offer (connection-move.ts, step 2). */
  moveAnswered(accepted: boolean): void;
  /** Called by the shard's sweep every few seconds (idle detection). */
  tick(now: number): void;
}
