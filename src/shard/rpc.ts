// Request/response between shards over the mesh (FrameKind.RpcRequest/RpcResponse). Used for the
// few operations that need an answer (credentials, bind, registration), never for routing stanzas.
import type { ShardId } from '../transport/channel.ts';

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

const RPC_TIMEOUT_MS = 15_000;

export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly sendRequest: (peer: ShardId, id: number, json: string) => void;

  constructor(sendRequest: (peer: ShardId, id: number, json: string) => void) {
    this.sendRequest = sendRequest;
  }

  call(peer: ShardId, method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++ >>> 0 || this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`ERR_RPC_TIMEOUT: ${method} on shard ${peer}`));
      }, RPC_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.sendRequest(peer, id, JSON.stringify({ method, params }));
    });
  }

  settle(id: number, json: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    const answer = JSON.parse(json) as { ok: boolean; value?: unknown; error?: string };
    if (answer.ok) p.resolve(answer.value);
    else p.reject(new Error(answer.error ?? 'rpc failed'));
  }

  /** Fails every call in flight (the peer shard died). */
  failAll(reason: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
      this.pending.delete(id);
    }
  }
}
