// In-process shards for unit tests (STYLE §4.6): real Router, Registry, SessionTable and modules,
// in-memory stores and a loopback mesh; no sockets and no threads. Connections are fakes that
// record what the server writes to them, parsed back into Elements.
import { Placement } from '../../src/shard/placement.ts';
import { ShardRuntime } from '../../src/shard/runtime.ts';
import type { XmppModule } from '../../src/router/module.ts';
import { createMemoryUserStores } from '../../src/storage/memory/index.ts';
import type { GroupStores, UserStores } from '../../src/storage/ports.ts';
import { openGroupStores } from '../../src/storage/group-stores.ts';
import { openUserStores } from '../../src/storage/user-stores.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionHandle } from '../../src/stream/edge-services.ts';
import { createLogger } from '../../src/telemetry/log.ts';
import { createShardMetrics } from '../../src/telemetry/metrics.ts';
import { createLoopbackMeshes } from '../../src/transport/loopback-mesh.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { parseElement } from '../../src/xmpp/stream-parser.ts';
import type { Element } from '../../src/xmpp/xml.ts';
import type { SessionRecord } from '../../src/shard/session-table.ts';
import { bareOf, parseJid } from '../../src/xmpp/jid.ts';
import { tls } from './tls-context.ts';

export class FakeConnection implements ConnectionHandle {
  readonly id: number;
  home: number | undefined;
  readonly received: Element[] = [];
  closed: { condition: string | undefined; text: string | undefined } | null = null;
  constructor(id: number) {
    this.id = id;
  }
  write(xml: string): void {
    this.received.push(parseElement(xml));
  }
  close(condition?: string, text?: string): void {
    this.closed = { condition, text };
  }
  pause(): void {}
  resume(): void {}
  moveAnswered(): void {} // fake connections never offer to move
  tick(): void {}
  /** Removes and returns everything received so far. */
  take(): Element[] {
    return this.received.splice(0);
  }
}

export interface TestClient {
  full: string;
  conn: FakeConnection;
  shard: ShardRuntime;
  /** Sends a stanza as this client (XML text), as the edge would. */
  send(xmlText: string): void;
}

export interface TestCluster {
  shards: ShardRuntime[];
  stores: UserStores[];
  groupStores: GroupStores[];
  config: Config;
  placement: Placement;
  /** Binds a resource for `bare` on its home shard; the fake connection lives on `edge` (default: home). */
  login(bare: string, resource?: string, edge?: number): Promise<TestClient>;
  /** Creates accounts with placeholder credentials (in-process tests never authenticate). */
  createAccounts(...jids: string[]): Promise<void>;
  /** The SessionRecord of a client on its home shard. */
  sessionOf(client: TestClient): SessionRecord;
  /** Lets queued async work (mesh deliveries, storage) finish. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export async function createTestCluster(opts: {
  modules: readonly XmppModule[];
  shards?: number;
  config?: Partial<Config>;
  /**
   * With a directory, every shard gets real libSQL user stores there (each opening only the files it owns,
   * as in the server). Without, users live in one shared memory store. Group chat stores are always
   * libSQL: in `dataDir`, or in a temporary directory removed by stop().
   */
  dataDir?: string;
}): Promise<TestCluster> {
  const n = opts.shards ?? 1;
  const base = loadConfig({ env: {} });
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'waddle-test-'));
  const config = { ...base, workers: n, dataDir, ...opts.config } as Config;
  const placement = new Placement(n);
  const meshes = createLoopbackMeshes(n);
  // Without dataDir, one shared memory store per cluster: in-process, ownership is still enforced by placement routing.
  const memory = opts.dataDir === undefined ? createMemoryUserStores() : undefined;
  const userStores = meshes.map((_, id) => memory ?? openUserStores({ dataDir, placement, shard: id }));
  const groupStores = meshes.map((_, id) => openGroupStores({ dataDir, domain: config.domain, placement, shard: id }));
  const shards = meshes.map(
    (mesh, id) =>
      new ShardRuntime({
        id,
        config,
        placement,
        mesh,
        stores: userStores[id] as UserStores,
        groupStores: groupStores[id] as GroupStores,
        secureContext: tls(),
        tlsCredentials: { key: '', cert: '' },
        leanTls: null,
        secret: 'test-secret',
        log: createLogger({ level: 'silent', shard: id }),
        metrics: createShardMetrics(id),
        modules: opts.modules,
      }),
  );
  for (const s of shards) s.startMesh();
  let nextConn = 1;
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    shards,
    stores: memory ? [memory] : userStores,
    groupStores,
    config,
    placement,
    settle,
    async createAccounts(...jids) {
      const creds = { salt: 'c2FsdA==', iterations: 4096, storedKey: 'AA==', serverKey: 'AA==' };
      for (const jid of jids) {
        const owner = (memory ?? userStores[placement.shardOf(jid)]) as UserStores;
        await owner.accounts.create({ jid, credentials: { 'SHA-1': creds, 'SHA-256': creds }, createdAt: 0 });
      }
    },
    sessionOf(client) {
      const jid = parseJid(client.full);
      const bare = bareOf(jid);
      const session = shards[placement.shardOf(bare)]?.sessions.get(bare, jid.resource);
      if (!session) throw new Error(`no session ${client.full}`);
      return session;
    },
    async login(bare, resource, edge) {
      const home = placement.shardOf(bare);
      const edgeShard = shards[edge ?? home] as ShardRuntime;
      const conn = new FakeConnection(nextConn++);
      edgeShard.edge.connections.set(conn.id, conn);
      const answer = (await edgeShard.call(bare, 'session.bind', {
        bare,
        resource: resource ?? null,
        edge: edgeShard.id,
        connId: conn.id,
      })) as {
        ok: boolean;
        full: string;
        home: number;
      };
      if (!answer.ok) throw new Error('bind failed');
      conn.home = answer.home;
      await settle();
      return {
        full: answer.full,
        conn,
        shard: edgeShard,
        send(xmlText: string) {
          const el = parseElement(xmlText);
          if (el.attrs.xmlns === undefined) el.attrs.xmlns = 'jabber:client';
          const homeShard = shards[answer.home] as ShardRuntime;
          homeShard.home.fromConnection(edgeShard.id, conn.id, el);
        },
      };
    },
    async stop() {
      for (const m of meshes) m.stop();
      await Promise.all([...groupStores.map((g) => g.close()), ...(memory ? [] : userStores.map((u) => u.close()))]);
      if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
