// ShardRuntime composes one shard (STYLE §4.3): its edge (listeners, connections), its home
// (sessions of the JIDs it owns), the router, the modules and the mesh. It has no features of its own.
import type { SecureContext } from 'node:tls';
import type { Config } from '../config/schema.ts';
import type { XmppModule } from '../router/module.ts';
import { Registry } from '../router/registry.ts';
import { Router } from '../router/router.ts';
import type { GroupStores, UserStores } from '../storage/ports.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ShardMetrics } from '../telemetry/metrics.ts';
import type { Mesh, ShardId } from '../transport/channel.ts';
import { FrameKind, decodeEnvelope, encodeEnvelope } from '../transport/envelope.ts';
import { FrameTooLargeError } from '../transport/sab-ring.ts';
import { StanzaError } from '../xmpp/errors.ts';
import type { ConnectionHandle, EdgeServices } from '../stream/edge-services.ts';
import { parseJid } from '../xmpp/jid.ts';
import { serverEndPointOf } from '../stream/sasl/channel-binding.ts';
import { rememberRingText, stanzaText } from '../xmpp/ring-text.ts';
import { parseSerialized } from '../xmpp/serialized-xml.ts';
import { type Element, serialize } from '../xmpp/xml.ts';
import type { LeanTlsContexts } from '../tls/engine.ts';
import { C2sConnection } from '../stream/c2s-connection.ts';
import { type MovedConnection, dropMovedConnection, openMovedSocket } from '../stream/connection-move.ts';
import { EdgeListeners } from './edge.ts';
import { type BindRequest, HomeSessions } from './home.ts';
import { setupModules } from './module-context.ts';
import type { Placement } from './placement.ts';
import { RpcClient } from './rpc.ts';
import { SessionTable } from './session-table.ts';

export interface ShardOptions {
  id: ShardId;
  config: Config;
  placement: Placement;
  mesh: Mesh;
  stores: UserStores;
  groupStores: GroupStores;
  secureContext: SecureContext;
  tlsCredentials: { key: string; cert: string };
  /** The lean TLS engine's contexts; null: node:tls (tests without TLS, or `[tls] engine = "node"`). */
  leanTls: LeanTlsContexts | null;
  secret: string;
  log: Logger;
  metrics: ShardMetrics;
  modules: readonly XmppModule[];
}

export class ShardRuntime {
  readonly id: ShardId;
  readonly registry = new Registry();
  readonly sessions = new SessionTable();
  readonly router: Router;
  readonly home: HomeSessions;
  readonly edge = new EdgeListeners();
  private readonly o: ShardOptions;
  private readonly rpc: RpcClient;
  private nextConnId = 1;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The histogram child for mesh hops, looked up once: `observe(labels, v)` hashes the labels on every call. */
  private readonly meshLatency: { observe(seconds: number): void };
  private meshFrames = 0;
  /**
   * Connections moving here from their edge (src/stream/connection-move.ts), by moveKey: the writes and
   * the close meant for them, held from our MoveAnswer until their MoveIn (or SessionEnd) arrives.
   */
  private readonly movesIn = new Map<number, { held: string[]; close: [string, string | undefined] | null }>();
  private services: EdgeServices | undefined;

  constructor(o: ShardOptions) {
    this.o = o;
    this.id = o.id;
    this.meshLatency = o.metrics.routeLatency.labels({ path: 'mesh' });
    Registry.checkDependencies(o.modules);
    // Export every connection series from the start, so dashboards see a 0 instead of no data.
    for (const transport of ['tcp', 'tls', 'starttls']) o.metrics.connections.set({ transport }, 0);
    this.rpc = new RpcClient((peer, id, json) => this.send(peer, encodeEnvelope(FrameKind.RpcRequest, this.id, id, 0, json)));
    this.router = new Router({
      shard: o.id,
      domain: o.config.domain,
      placement: o.placement,
      registry: this.registry,
      sessions: this.sessions,
      log: o.log,
      metrics: o.metrics,
      forward: (owner, stanza) => {
        if (!this.send(owner, encodeEnvelope(FrameKind.Route, this.id, 0, nowMicros32(), stanzaText(stanza)))) {
          this.router.bounce(stanza, new StanzaError('modify', 'policy-violation', 'stanza too large to route'));
        }
      },
      forwardFanout: (owner, stanza, recipients) => {
        const payload = `${recipients.join('\n')}\n\n${serialize(stanza)}`;
        if (!this.send(owner, encodeEnvelope(FrameKind.Fanout, this.id, 0, nowMicros32(), payload))) {
          this.o.log.warn({ to: owner, recipients: recipients.length }, 'fan-out frame too large for the ring; dropped');
        }
      },
      writeToConnection: (edge, connId, xml) => {
        if (edge === this.id) this.edge.connections.get(connId)?.write(xml);
        else if (this.movesIn.size > 0 && this.movesIn.get(moveKey(edge, connId))?.held.push(xml)) return;
        else this.send(edge, encodeEnvelope(FrameKind.ToConnection, this.id, connId, 0, xml));
      },
      closeConnection: (edge, connId, condition, text) => {
        const moving = edge === this.id ? undefined : this.movesIn.get(moveKey(edge, connId));
        if (edge === this.id) this.edge.connections.get(connId)?.close(condition, text);
        else if (moving) moving.close ??= [condition, text];
        else this.send(edge, encodeEnvelope(FrameKind.CloseConnection, this.id, connId, 0, text ? `${condition} ${text}` : condition));
      },
    });
    this.home = new HomeSessions({
      shard: o.id,
      sessions: this.sessions,
      hooks: this.registry.hooks,
      router: this.router,
      log: o.log,
      metrics: o.metrics,
      features: () => this.registry.streamFeatures(),
    });
    this.registry.addRpc('session.bind', (params) => this.home.bind(params as BindRequest));
    setupModules(o.modules, {
      shard: o.id,
      config: o.config,
      log: o.log,
      metrics: o.metrics,
      stores: o.stores,
      groupStores: o.groupStores,
      sessions: this.sessions,
      registry: this.registry,
      router: this.router,
      home: this.home,
      call: (key, method, params) => this.call(key, method, params),
      ownerOf: (key) => o.placement.shardOf(key),
      every: (ms, fn) => {
        const timer = setInterval(() => {
          try {
            const r = fn();
            if (r instanceof Promise) r.catch((err: unknown) => o.log.error({ err }, 'background task failed'));
          } catch (err) {
            o.log.error({ err }, 'background task failed');
          }
        }, ms);
        timer.unref();
        this.timers.push(timer);
      },
    });
  }

  async start(): Promise<void> {
    this.startMesh();
    await this.edge.listen(this.edgeServices());
  }

  /** Step 2 of a move: hold the connection's writes here from now on, if its session is still live. */
  private onMoveOffer(from: ShardId, connId: number): void {
    const session = this.sessions.byConnection(from, connId);
    const accepted = session !== undefined && !session.closed && !session.detached;
    if (accepted) this.movesIn.set(moveKey(from, connId), { held: [], close: null });
    else this.o.metrics.connectionMoves.inc({ result: 'refused' });
    this.send(from, encodeEnvelope(FrameKind.MoveAnswer, this.id, connId, accepted ? 1 : 0, ''));
  }

  /** Step 4: the connection arrives; it continues here with what was held for it. */
  private onMoveIn(from: ShardId, connId: number, moved: MovedConnection): void {
    const hold = this.movesIn.get(moveKey(from, connId));
    this.movesIn.delete(moveKey(from, connId));
    const session = this.sessions.byConnection(from, connId);
    if (hold === undefined || session === undefined || session.closed) {
      dropMovedConnection(moved);
      this.o.metrics.connectionMoves.inc({ result: 'aborted' });
      return;
    }
    let conn: C2sConnection;
    try {
      conn = new C2sConnection(openMovedSocket(moved), moved.transport, this.edgeServices(), moved);
    } catch (err) {
      this.o.log.error({ err, jid: session.full, from }, 'a moved connection could not be opened');
      this.o.metrics.connectionMoves.inc({ result: 'aborted' });
      this.home.connectionEnded(from, connId, false);
      return;
    }
    this.home.reattach(session, this.id, conn.id);
    this.o.metrics.connectionMoves.inc({ result: 'moved' });
    this.o.log.debug({ jid: session.full, from, conn: conn.id }, 'connection moved to its home shard');
    for (const xml of hold.held) conn.write(xml);
    if (hold.close) conn.close(hold.close[0], hold.close[1]);
    else conn.injectMovedInput(Buffer.from(moved.pending, 'base64'));
    this.edge.accept(conn); // last: during shutdown it closes the connection, after what was held for it
  }

  /** Starts draining the rings (separate from listening so in-process tests can skip sockets). */
  startMesh(): void {
    this.o.mesh.start({
      onFrame: (from, frame) => this.handleFrame(from, frame),
      onBackpressure: (peer) => {
        this.o.metrics.backpressure.inc({ to: String(peer) });
        this.edge.pauseAll();
      },
      onWritable: () => this.edge.resumeAll(),
    });
  }

  /** Graceful stop: no new connections, every stream closed with system-shutdown, storage flushed. */
  async stop(): Promise<void> {
    this.edge.stopAccepting();
    this.edge.closeAll('system-shutdown', 'the server is shutting down');
    await this.edge.drained(3_000);
    for (const t of this.timers) clearInterval(t);
    await Promise.all([this.o.stores.flush(), this.o.groupStores.flush()]);
    this.o.mesh.stop();
    await Promise.all([this.o.stores.close(), this.o.groupStores.close()]);
  }

  /** Another shard crashed: its connections are gone, so are the sessions they carried. */
  peerLost(peer: ShardId): void {
    for (const key of [...this.movesIn.keys()]) if (key % MAX_SHARDS === peer) this.movesIn.delete(key);
    this.home.edgeLost(peer);
    // Sessions homed on the lost shard lost their state with it: their clients must reconnect.
    for (const conn of [...this.edge.connections.values()]) {
      if (conn.home === peer) conn.close('internal-server-error', 'a worker restarted; please reconnect');
    }
  }

  /**
   * Sends a frame over the mesh. A frame larger than a ring can ever hold is refused (false) rather
   * than thrown, so one oversized stanza costs its sender an error, never the shard.
   */
  private send(peer: ShardId, frame: Uint8Array): boolean {
    try {
      this.o.mesh.send(peer, frame);
      return true;
    } catch (err) {
      if (err instanceof FrameTooLargeError) {
        this.o.log.warn({ peer, bytes: frame.byteLength }, 'frame too large for the ring; refused');
        return false;
      }
      throw err;
    }
  }

  call(key: string, method: string, params: unknown): Promise<unknown> {
    const owner = this.o.placement.shardOf(key);
    if (owner === this.id) return this.invokeLocal(method, params, this.id);
    return this.rpc.call(owner, method, params);
  }

  /** Runs one of this shard's rpc methods for the primary (operator requests). */
  invoke(method: string, params: unknown): Promise<unknown> {
    return this.invokeLocal(method, params, this.id);
  }

  private async invokeLocal(method: string, params: unknown, from: ShardId): Promise<unknown> {
    const fn = this.registry.rpc(method);
    if (!fn) throw new Error(`ERR_NO_RPC_METHOD: ${method}`);
    return fn(params, from);
  }

  handleFrame(from: ShardId, frame: Uint8Array): void {
    // One bad frame must never stop the shard from draining its rings.
    try {
      this.dispatchFrame(from, frame);
    } catch (err) {
      this.o.log.error({ err, from }, 'frame handling failed');
    }
  }

  /**
   * One frame in MESH_LATENCY_SAMPLE is timed: a histogram observation (~0.2 µs) per frame was a tenth
   * of what a ring hop costs, and a sample shows the same distribution.
   */
  private observeMeshLatency(sentMicros: number): void {
    if ((++this.meshFrames & (MESH_LATENCY_SAMPLE - 1)) === 0) this.meshLatency.observe(((nowMicros32() - sentMicros) >>> 0) / 1e6);
  }

  private dispatchFrame(from: ShardId, frame: Uint8Array): void {
    const env = decodeEnvelope(frame);
    switch (env.kind) {
      case FrameKind.Route: {
        this.observeMeshLatency(env.b);
        const stanza = parseSerialized(env.payload);
        rememberRingText(stanza, env.payload);
        const to = parseJid(String(stanza.attrs.to));
        void this.router.deliverRouted(stanza, to);
        return;
      }
      case FrameKind.Fanout: {
        this.observeMeshLatency(env.b);
        const split = env.payload.indexOf('\n\n');
        this.router.deliverFanout(parseSerialized(env.payload.slice(split + 2)), env.payload.slice(0, split).split('\n'));
        return;
      }
      case FrameKind.ToConnection:
        this.edge.connections.get(env.a)?.write(env.payload);
        return;
      case FrameKind.SessionIn:
        this.home.fromConnection(from, env.a, parseSerialized(env.payload));
        return;
      case FrameKind.SessionEnd:
        // A connection that died while moving here: nothing will arrive, the session ends as usual.
        if (this.movesIn.delete(moveKey(from, env.a))) this.o.metrics.connectionMoves.inc({ result: 'aborted' });
        this.home.connectionEnded(from, env.a, env.b === 1);
        return;
      case FrameKind.MoveOffer:
        this.onMoveOffer(from, env.a);
        return;
      case FrameKind.MoveAnswer:
        this.edge.connections.get(env.a)?.moveAnswered(env.b === 1);
        return;
      case FrameKind.MoveIn:
        this.onMoveIn(from, env.a, JSON.parse(env.payload) as MovedConnection);
        return;
      case FrameKind.CloseConnection: {
        const space = env.payload.indexOf(' ');
        const condition = space === -1 ? env.payload : env.payload.slice(0, space);
        this.edge.connections.get(env.a)?.close(condition, space === -1 ? undefined : env.payload.slice(space + 1));
        return;
      }
      case FrameKind.RpcRequest: {
        const { method, params } = JSON.parse(env.payload) as { method: string; params: unknown };
        const respond = (answer: object) =>
          this.send(from, encodeEnvelope(FrameKind.RpcResponse, this.id, env.a, 0, JSON.stringify(answer)));
        this.invokeLocal(method, params, from).then(
          (value) => respond({ ok: true, value: value ?? null }),
          (err: unknown) => {
            this.o.log.error({ err, method }, 'rpc failed');
            respond({ ok: false, error: String(err instanceof Error ? err.message : err) });
          },
        );
        return;
      }
      case FrameKind.RpcResponse:
        this.rpc.settle(env.a, env.payload);
        return;
      default:
        this.o.log.error({ kind: env.kind, from }, 'unknown frame kind');
    }
  }

  private edgeServices(): EdgeServices {
    this.services ??= this.makeEdgeServices();
    return this.services;
  }

  private makeEdgeServices(): EdgeServices {
    const { o } = this;
    return {
      shard: this.id,
      config: o.config,
      secureContext: o.secureContext,
      tlsCredentials: o.tlsCredentials,
      leanTls: o.leanTls,
      serverEndPoint: o.tlsCredentials.cert === '' ? null : serverEndPointOf(o.tlsCredentials.cert),
      secret: o.secret,
      log: o.log,
      metrics: o.metrics,
      streamFeatures: () => this.registry.streamFeatures(),
      bind2Features: () => this.registry.bind2Features(),
      hasRpc: (method) => this.registry.rpc(method) !== undefined,
      call: (key, method, params) => this.call(key, method, params),
      sessionIn: (home, connId, stanza: Element) => {
        if (home === this.id) this.home.fromConnection(this.id, connId, stanza);
        else if (!this.send(home, encodeEnvelope(FrameKind.SessionIn, this.id, connId, 0, serialize(stanza)))) {
          this.edge.connections.get(connId)?.close('policy-violation', 'stanza too large');
        }
      },
      sessionEnd: (home, connId, clean) => {
        if (home === this.id) this.home.connectionEnded(this.id, connId, clean);
        else this.send(home, encodeEnvelope(FrameKind.SessionEnd, this.id, connId, clean ? 1 : 0, ''));
      },
      moveOffer: (home, connId) => this.send(home, encodeEnvelope(FrameKind.MoveOffer, this.id, connId, 0, '')),
      moveIn: (home, connId, moved) => {
        if (!this.send(home, encodeEnvelope(FrameKind.MoveIn, this.id, connId, 0, JSON.stringify(moved)))) {
          dropMovedConnection(moved);
          this.send(home, encodeEnvelope(FrameKind.SessionEnd, this.id, connId, 0, ''));
        }
      },
      nextConnectionId: () => this.nextConnId++,
      register: (conn: ConnectionHandle) => this.edge.connections.set(conn.id, conn),
      unregister: (conn: ConnectionHandle) => this.edge.connections.delete(conn.id),
    };
  }
}

/** Every 8th routed frame's latency is observed (a power of two: the test is a mask). */
const MESH_LATENCY_SAMPLE = 8;

/** Shard ids are below this (config: at most 256 workers), so a key is unique per (edge, connection). */
const MAX_SHARDS = 256;

function moveKey(edge: ShardId, connId: number): number {
  return connId * MAX_SHARDS + edge;
}

/** Microseconds on the shared wall clock, mod 2^32 (wraps every ~71 min; differences stay right). */
function nowMicros32(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000) >>> 0;
}
