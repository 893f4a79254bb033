// The primary's HTTP port: /metrics (prom-client, every shard aggregated) and /health. Later issues
// add the REST API, WebSocket and uploads here.
import http from 'node:http';
import type { Registry } from 'prom-client';
import { aggregateMetrics } from '../telemetry/metrics.ts';
import type { Logger } from '../telemetry/log.ts';
import type { Supervisor } from './supervisor.ts';

export interface HttpDeps {
  host: string;
  port: number;
  registry: Registry;
  supervisor: Supervisor;
  log: Logger;
  /** Operator requests (`waddle` CLI): the expected bearer token, and which shard owns a key. */
  admin: { token: string; shardOf(key: string): number };
  /** Test-only: lets a test crash a shard to exercise restart (WADDLE_TEST_HOOKS=1). */
  crashShard: ((shard: number) => void) | null;
}

export async function startHttp(d: HttpDeps): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/metrics') {
      d.supervisor
        .collectMetrics()
        .then((shards) => aggregateMetrics(d.registry, shards as Parameters<typeof aggregateMetrics>[1]))
        .then((text) => {
          res.writeHead(200, { 'content-type': d.registry.contentType });
          res.end(text);
        })
        .catch((err: unknown) => {
          d.log.error({ err }, 'metrics failed');
          res.writeHead(500).end();
        });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, workers: d.supervisor.size }));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/admin/rpc') {
      void handleAdmin(d, req, res);
      return;
    }
    if (d.crashShard && req.method === 'POST' && url.pathname === '/debug/crash') {
      d.crashShard(Number(url.searchParams.get('worker') ?? 0));
      res.writeHead(202).end();
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: d.host, port: d.port }, () => resolve());
  });
  return server;
}

const ADMIN_BODY_LIMIT = 64 * 1024;
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * POST /admin/rpc `{ key, method, params }` → `{ ok, value }` or `{ ok: false, error, code }`: runs an rpc
 * on the shard owning `key`, so the operator's change goes through the owning worker (its caches, live
 * rooms) instead of a second writer opening the file. Loopback only, with the token derived from the
 * server secret in the data directory (src/cli/admin-client.ts): whoever can read that file is the operator.
 */
async function handleAdmin(d: HttpDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const send = (status: number, body: object): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  if (!LOOPBACK.has(req.socket.remoteAddress ?? ''))
    return send(403, { ok: false, error: 'admin requests are accepted from loopback only', code: 'forbidden' });
  if (req.headers.authorization !== `Bearer ${d.admin.token}`)
    return send(401, { ok: false, error: 'bad admin token', code: 'not-authorized' });
  let raw = '';
  for await (const chunk of req) {
    raw += String(chunk);
    if (raw.length > ADMIN_BODY_LIMIT) return send(413, { ok: false, error: 'request too large', code: 'bad-request' });
  }
  let body: { key?: unknown; method?: unknown; params?: unknown };
  try {
    body = JSON.parse(raw) as typeof body;
  } catch {
    return send(400, { ok: false, error: 'body is not JSON', code: 'bad-request' });
  }
  if (typeof body.key !== 'string' || typeof body.method !== 'string' || !body.method.startsWith('admin.')) {
    return send(400, { ok: false, error: 'expected { key, method: "admin.…", params }', code: 'bad-request' });
  }
  try {
    const value = await d.supervisor.adminCall(d.admin.shardOf(body.key), body.method, body.params ?? null);
    send(200, { ok: true, value });
  } catch (err) {
    const e = err as { message?: string; code?: unknown };
    d.log.warn({ err, method: body.method, key: body.key }, 'admin request failed');
    send(200, { ok: false, error: String(e.message ?? err), code: typeof e.code === 'string' ? e.code : 'error' });
  }
}
