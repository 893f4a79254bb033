// ejabberd (Debian's package, 23.01) as a benchmark target, in the shape of targets/waddle.ts.
// - Started with `erl … -s ejabberd` directly, as `ejabberdctl foreground` does, but without its
//   `su ejabberd` (ejabberdctl insists on its install user, and su forks: the pid would not be the
//   beam.smp process the harness samples) and with a node name, Mnesia spool, config and logs of its
//   own under the data directory. taskset and erl's scripts exec in place, and the pid is in any case
//   resolved to the `beam.smp` process below the child (peer-process.ts findProcess).
// - Accounts: `ejabberdctl register` starts an Erlang VM per call (~1 s each). Instead the server is
//   started once with mod_http_api on loopback and the accounts are created with concurrent
//   POST /api/register calls, then stopped; Mnesia keeps them for the measured runs, each of which
//   starts the server afresh on the same spool.
// - Passwords are stored hashed (`auth_password_format: scram`, SHA-256, 4096 iterations, one salt per
//   user): PLAIN costs a PBKDF2 per login as on waddle; plain runs use SCRAM-SHA-256 as waddle's do.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, PEER_HOST, selfSignedCert, spawnPeer } from './peer-process.ts';
import { fillTemplate } from './prosody.ts';
import type { RunningTarget, TargetOptions } from './waddle.ts';

const TEMPLATE = fileURLToPath(new URL('./peers/ejabberd.yml', import.meta.url));
/** Where Debian's package puts ejabberd's and its dependencies' ebin directories (ejabberdctl's ERL_LIBS). */
const ERL_LIBS = '/usr/lib/x86_64-linux-gnu';

export interface EjabberdConfigSlots {
  pem: string;
  c2s: number;
  tls: number;
  http: number;
  requireTls: boolean;
}

export function ejabberdConfig(s: EjabberdConfigSlots): string {
  const { requireTls, ...rest } = s;
  return fillTemplate(readFileSync(TEMPLATE, 'utf8'), { ...rest, require_tls: requireTls });
}

/** A node name fixed per data directory: Mnesia's schema is bound to the node that created it. */
export function nodeName(dataDir: string): string {
  return `wbench${createHash('sha1').update(dataDir).digest('hex').slice(0, 10)}@localhost`;
}

/** `erl` command line equivalent to `ejabberdctl foreground` (ERLANG_OPTS "+K true +P 250000"). */
export function erlArgv(node: string, spool: string): string[] {
  return [
    '/usr/bin/erl',
    '-sname',
    node,
    '+K',
    'true',
    '+P',
    '250000',
    '-env',
    'ERL_CRASH_DUMP_BYTES',
    '0',
    '-noinput',
    '-mnesia',
    'dir',
    JSON.stringify(spool),
    '-s',
    'ejabberd',
  ];
}

async function startEjabberdOn(o: TargetOptions, cpus: string | null): Promise<RunningTarget> {
  const ports = { c2s: await freePort(), tls: await freePort(), http: await freePort() };
  const { cert, key } = selfSignedCert(o.dataDir);
  const pem = join(o.dataDir, 'ejabberd.pem');
  await writeFile(pem, readFileSync(key, 'utf8') + readFileSync(cert, 'utf8'));
  const spool = join(o.dataDir, 'ejabberd-spool');
  await mkdir(spool, { recursive: true });
  const configFile = join(o.dataDir, `ejabberd-${o.runId}.yml`);
  await writeFile(configFile, ejabberdConfig({ pem, ...ports, requireTls: !o.allowPlain }));
  const log = join(o.dataDir, `ejabberd-${o.runId}.log`);
  return spawnPeer({
    argv: erlArgv(nodeName(o.dataDir), spool),
    env: {
      ...process.env,
      HOME: o.dataDir, // erl writes its .erlang.cookie there
      EJABBERD_CONFIG_PATH: configFile,
      EJABBERD_LOG_PATH: log,
      ERL_LIBS,
      ERL_MAX_PORTS: '65536',
      ERL_CRASH_DUMP: join(o.dataDir, 'erl_crash.dump'),
    },
    cwd: spool,
    cpus,
    workerComm: 'beam.smp',
    readyPorts: [ports.c2s, ports.tls, ports.http],
    ports,
    logFiles: [log, join(o.dataDir, 'error.log')],
    timeoutMs: 60_000,
  });
}

export async function startEjabberd(o: TargetOptions): Promise<RunningTarget> {
  return startEjabberdOn(o, o.cpus);
}

/** Creates the accounts through a temporary server's HTTP API (16 requests in flight); returns how many were created. */
export async function provisionEjabberdUsers(dataDir: string, users: readonly string[], password: string): Promise<number> {
  const server = await startEjabberdOn(
    { dataDir, workers: 1, allowPlain: true, cpus: null, cpuProfDir: null, logLevel: 'warn', runId: 'provision' },
    null,
  );
  let created = 0;
  try {
    let next = 0;
    const worker = async () => {
      while (next < users.length) {
        const [user, host] = (users[next++] as string).split('@') as [string, string];
        const res = await fetch(`http://${PEER_HOST}:${server.httpPort}/api/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user, host, password }),
        });
        const text = await res.text();
        // An account left from an earlier provisioning (--data-dir) answers 409 conflict: keep it.
        if (res.ok) created++;
        else if (res.status !== 409) throw new Error(`ejabberd register ${user}@${host}: HTTP ${res.status} ${text}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${server.output().slice(-2000)}`);
  } finally {
    await server.stop();
  }
  return created;
}
