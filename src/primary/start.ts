// `waddle start`: the primary thread. Prepares the data directory and certificate, creates the ring
// mesh, spawns the shards, serves HTTP, and drains on SIGTERM/SIGINT.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import net from 'node:net';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { createLogger } from '../telemetry/log.ts';
import { createPrimaryMetrics } from '../telemetry/metrics.ts';
import { startTracing } from '../telemetry/tracing.ts';
import { ensureCertificate } from '../tls/certs.ts';
import { leanTls, leanTlsLoadError } from '../tls/lean/index.ts';
import { createMeshInit } from '../transport/sab-mesh.ts';
import { adminToken, removeAdminEndpoint, writeAdminEndpoint } from '../cli/admin-client.ts';
import { Placement } from '../shard/placement.ts';
import { startHttp } from './http.ts';
import { Supervisor } from './supervisor.ts';

export interface RunningServer {
  config: Config;
  stop(): Promise<void>;
}

export async function startServer(input: Config): Promise<RunningServer> {
  const tracing = startTracing({ serviceName: input.telemetry.serviceName, otlpEndpoint: input.telemetry.otlpEndpoint, thread: 'primary' });
  const log = createLogger({ level: input.log.level, shard: 'primary' });
  // Checked here, before any worker starts: a shard that cannot build its TLS contexts would only be
  // restarted again and again by the supervisor.
  if (input.tls.engine === 'lean' && leanTls() === null)
    throw new ConfigError([`tls.engine: "lean", but ${leanTlsLoadError()}; run npm ci or npm run build:native, or choose "auto"`]);
  // Port 0 means "any free port" (tests): pick it here so every shard listens on the same one.
  const [c2sPort, tlsPort, httpPort] = await concretePorts([
    [input.c2s.host, input.c2s.port],
    [input.c2s.host, input.c2s.tlsPort],
    [input.http.host, input.http.port],
  ]);
  const config: Config = Object.freeze({
    ...input,
    c2s: Object.freeze({ ...input.c2s, port: c2sPort as number, tlsPort: tlsPort as number }),
    http: Object.freeze({ ...input.http, port: httpPort as number }),
  });
  await mkdir(config.dataDir, { recursive: true });
  const cert = await ensureCertificate({
    dataDir: config.dataDir,
    domain: config.domain,
    ...(config.tls.key ? { key: config.tls.key } : {}),
    ...(config.tls.cert ? { cert: config.tls.cert } : {}),
  });
  if (cert.generated)
    log.warn(
      { cert: cert.paths.cert },
      `generated a self-signed certificate for ${config.domain}; configure [tls] key and cert for production`,
    );
  const metrics = createPrimaryMetrics();
  const secret = await loadOrCreateSecret(config.dataDir);
  const placement = new Placement(config.workers);
  const supervisor = new Supervisor({
    config,
    mesh: createMeshInit(config.workers, config.ringBytes),
    tls: { key: cert.key, cert: cert.cert },
    secret,
    log,
    onRestart: () => metrics.workerRestarts.inc(),
  });
  await supervisor.start();
  const http = await startHttp({
    host: config.http.host,
    port: config.http.port,
    registry: metrics.registry,
    supervisor,
    log,
    admin: { token: adminToken(secret), shardOf: (key) => placement.shardOf(key) },
    crashShard: process.env.WADDLE_TEST_HOOKS === '1' ? (id) => supervisor.crash(id) : null,
  });
  // Tells `waddle` CLI commands on this machine where the running server takes operator requests.
  await writeAdminEndpoint(config.dataDir, config.http.port);
  log.info(
    {
      domain: config.domain,
      workers: config.workers,
      c2s: config.c2s.port,
      c2sTls: config.c2s.tlsPort,
      http: config.http.port,
      dataDir: config.dataDir,
    },
    'waddle started',
  );
  let stopped: Promise<void> | undefined;
  return {
    config,
    stop: () =>
      (stopped ??= (async () => {
        log.info('stopping: closing streams and flushing storage');
        http.close();
        await removeAdminEndpoint(config.dataDir);
        await supervisor.stop();
        await tracing.shutdown();
        log.info('stopped');
      })()),
  };
}

/**
 * Resolves port 0 to free ports. Every probe stays bound until all are chosen: probing one after another
 * with a close in between can hand out the same port twice, and with SO_REUSEPORT the plain and the TLS
 * listener would then silently share it (half the plain clients would land on the TLS listener).
 */
async function concretePorts(wanted: readonly (readonly [string, number])[]): Promise<number[]> {
  const probes: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (const [host, port] of wanted) {
      if (port !== 0) {
        ports.push(port);
        continue;
      }
      const probe = net.createServer();
      probes.push(probe);
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen({ host, port: 0 }, () => resolve());
      });
      ports.push((probe.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(probes.map((p) => new Promise<void>((resolve) => p.close(() => resolve()))));
  }
}

/** A random secret kept in the data directory, created at first start. */
async function loadOrCreateSecret(dataDir: string): Promise<string> {
  const path = join(dataDir, 'secret');
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    const secret = randomBytes(32).toString('hex');
    await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    return (await readFile(path, 'utf8')).trim();
  }
}
