// Control-plane messages between the primary and a shard (MessagePort only: never stanzas).
import type { Config } from '../config/schema.ts';
import type { MeshInit } from '../transport/channel.ts';

export interface ShardInit {
  shardId: number;
  config: Config;
  mesh: MeshInit;
  tls: { key: string; cert: string };
  /** Server secret (persisted in the data directory): SCRAM's fake salts for unknown users. */
  secret: string;
}

export type ToShard =
  | { type: 'stop' }
  | { type: 'metrics'; id: number }
  | { type: 'peer-lost'; shard: number }
  /** An operator request (`waddle` CLI through the HTTP admin endpoint): runs rpc `method` on this shard. */
  | { type: 'admin'; id: number; method: string; params: unknown }
  /** Test-only (WADDLE_TEST_HOOKS=1): throw an uncaught error to exercise crash recovery. */
  | { type: 'crash' };

export type FromShard =
  | { type: 'ready'; shardId: number }
  | { type: 'metrics'; id: number; data: unknown }
  | { type: 'admin'; id: number; ok: boolean; value?: unknown; error?: string; code?: string }
  | { type: 'stopped'; shardId: number };

export function parseShardInit(data: unknown): ShardInit {
  const d = data as Partial<ShardInit> | null;
  if (!d || typeof d.shardId !== 'number' || !d.config || !d.mesh || !d.tls || typeof d.secret !== 'string')
    throw new Error('ERR_SHARD_INIT: malformed workerData');
  return d as ShardInit;
}
