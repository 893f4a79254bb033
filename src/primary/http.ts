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
