// Builds a ShardRuntime inside a worker thread from its ShardInit, and answers control messages.
import tls from 'node:tls';
import { modules } from '../modules/index.ts';
import { resolveTlsEngine } from '../tls/engine.ts';
import { tlsGroups } from '../tls/groups.ts';
import { openGroupStores } from '../storage/group-stores.ts';
import { openUserStores } from '../storage/user-stores.ts';
import { createLogger } from '../telemetry/log.ts';
import { createShardMetrics } from '../telemetry/metrics.ts';
import { startTracing } from '../telemetry/tracing.ts';
import { attachMesh } from '../transport/sab-mesh.ts';
import type { FromShard, ShardInit, ToShard } from './control.ts';
import { Placement } from './placement.ts';
import { ShardRuntime } from './runtime.ts';

export interface BootedShard {
  start(): Promise<void>;
  control(msg: ToShard, reply: (msg: FromShard) => void): Promise<void>;
}

export async function createShard(init: ShardInit): Promise<BootedShard> {
  const { config, shardId } = init;
  const tracing = startTracing({
    serviceName: config.telemetry.serviceName,
    otlpEndpoint: config.telemetry.otlpEndpoint,
    thread: `shard-${shardId}`,
  });
  const log = createLogger({ level: config.log.level, shard: shardId });
  const metrics = createShardMetrics(shardId);
  const placement = new Placement(config.workers);
  const mesh = attachMesh(init.mesh, shardId);
  const tlsEngine = resolveTlsEngine(config, init.tls);
  if (tlsEngine.engine === 'node' && config.tls.engine === 'auto')
    log.warn({ why: tlsEngine.why }, 'client TLS falls back to node:tls (more memory per connection)');
  else log.info({ tlsEngine: tlsEngine.engine }, 'client TLS engine');
  const runtime = new ShardRuntime({
    id: shardId,
    config,
    placement,
    mesh,
    stores: openUserStores({ dataDir: config.dataDir, placement, shard: shardId }),
    groupStores: openGroupStores({ dataDir: config.dataDir, domain: config.domain, placement, shard: shardId }),
    secureContext: tls.createSecureContext({ key: init.tls.key, cert: init.tls.cert, ...tlsGroups(config) }),
    tlsCredentials: init.tls,
    leanTls: tlsEngine.engine === 'lean' ? tlsEngine.contexts : null,
    secret: init.secret,
    log,
    metrics,
    modules,
  });
  return {
    start: () => runtime.start(),
    async control(msg, reply) {
      if (msg.type === 'metrics') {
        for (let peer = 0; peer < mesh.shards; peer++) {
          if (peer !== shardId) metrics.ringOccupancy.set({ to: String(peer) }, mesh.channelTo(peer).occupancy);
        }
        reply({ type: 'metrics', id: msg.id, data: await metrics.registry.getMetricsAsJSON() });
      } else if (msg.type === 'admin') {
        try {
          const value = await runtime.invoke(msg.method, msg.params);
          reply({ type: 'admin', id: msg.id, ok: true, value: value ?? null });
        } catch (err) {
          const e = err as { message?: string; code?: unknown };
          reply({
            type: 'admin',
            id: msg.id,
            ok: false,
            error: String(e?.message ?? err),
            ...(typeof e?.code === 'string' ? { code: e.code } : {}),
          });
        }
      } else if (msg.type === 'peer-lost') {
        runtime.peerLost(msg.shard);
      } else if (msg.type === 'crash') {
        setImmediate(() => {
          throw new Error('crash requested by the primary (test hook)');
        });
      } else if (msg.type === 'stop') {
        await runtime.stop();
        await tracing.shutdown();
        reply({ type: 'stopped', shardId });
      }
    },
  };
}
