// Prosody 0.12 (Debian's package) as the reference server of the MUC / MAM interop scripts: a child
// process with its own config (test/helpers/prosody-test.cfg.lua), data directory, free loopback ports
// and self-signed certificate, never the system service or /etc/prosody. Accounts are written straight
// into its `internal` storage in the internal_hashed format, as the benchmark does (bench/targets/
// prosody.ts): a `prosodyctl register` per user would cost a Lua start-up each.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, selfSignedCert, spawnPeer } from '../../bench/targets/peer-process.ts';
import { accountFile, encodePathPart, fillTemplate, PROSODY_ITERATIONS, PROSODY_SALT, scramSha1Keys } from '../../bench/targets/prosody.ts';

export const PROSODY_BIN = '/usr/bin/prosody';
// `prosody --version` is no probe: 0.12 has no such flag and starts the server with the system config.
const VERSION_FILE = '/usr/lib/prosody/prosody.version';
const TEMPLATE = fileURLToPath(new URL('./prosody-test.cfg.lua', import.meta.url));
/** The MUC service of the template, named as waddle names its ad-hoc room service. */
export const PROSODY_MUC = 'conference.localhost';

export interface ProsodyProcess {
  host: string;
  domain: string;
  muc: string;
  c2sPort: number;
  tlsPort: number;
  /** The self-signed certificate, which is its own CA (what the scripts verify the server against). */
  ca: string;
  /** Prosody's output and the tail of its log file, for diagnostics. */
  output(): string;
  /** The log file's lines at level error, as far as it has been written. */
  errors(): string[];
  exited(): boolean;
  stop(): Promise<number | null>;
}

/**
 * Prosody's version, or why it cannot run. In CI (.ci/run installs it) a missing Prosody must fail the
 * test, as a missing slixmpp does; elsewhere the caller may skip with this reason.
 */
export function prosodyVersion(): { ok: true; version: string } | { ok: false; why: string } {
  if (!existsSync(PROSODY_BIN) || !existsSync(VERSION_FILE)) {
    return { ok: false, why: `the Prosody interop tests need Debian's prosody package (${PROSODY_BIN}, ${VERSION_FILE})` };
  }
  return { ok: true, version: readFileSync(VERSION_FILE, 'utf8').trim() };
}

/** Writes one account per bare JID (each with its own password) into Prosody's `internal` storage. */
export async function writeProsodyAccounts(dataPath: string, users: Readonly<Record<string, string>>): Promise<void> {
  for (const [jid, password] of Object.entries(users)) {
    const [local, host] = jid.split('@') as [string, string];
    const dir = join(dataPath, encodePathPart(host), 'accounts');
    await mkdir(dir, { recursive: true });
    const keys = scramSha1Keys(password, PROSODY_SALT, PROSODY_ITERATIONS);
    await writeFile(join(dir, `${encodePathPart(local)}.dat`), accountFile(keys, PROSODY_SALT, PROSODY_ITERATIONS));
  }
}

/**
 * Starts Prosody in `dir` (use `t.testdir()`) with the given accounts (bare JID → password) and
 * resolves once both client ports accept connections.
 */
export async function startProsody(opts: {
  dir: string;
  users: Readonly<Record<string, string>>;
  debug?: boolean;
}): Promise<ProsodyProcess> {
  const data = join(opts.dir, 'prosody-data');
  await writeProsodyAccounts(data, opts.users);
  const ports = { c2s: await freePort(), tls: await freePort(), http: 0 };
  const { cert, key } = selfSignedCert(opts.dir);
  const log = join(opts.dir, 'prosody.log');
  const configFile = join(opts.dir, 'prosody.cfg.lua');
  const config = fillTemplate(readFileSync(TEMPLATE, 'utf8'), {
    data,
    certdir: opts.dir,
    log,
    loglevel: opts.debug ? 'debug' : 'info',
    c2s: ports.c2s,
    tls: ports.tls,
    cert,
    key,
  });
  await writeFile(configFile, config);
  const target = await spawnPeer({
    argv: [PROSODY_BIN, '--config', configFile],
    env: process.env,
    cwd: opts.dir,
    cpus: null,
    workerComm: 'lua5.4',
    readyPorts: [ports.c2s, ports.tls],
    ports,
    logFiles: [log],
    timeoutMs: 30_000,
  });
  const logLines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n') : []);
  return {
    host: target.host,
    domain: target.domain,
    muc: PROSODY_MUC,
    c2sPort: target.c2sPort,
    tlsPort: target.tlsPort,
    ca: cert,
    output: () => target.output(),
    // Prosody's file log: "<date> <source> <level> <message>", tab separated.
    errors: () => logLines().filter((l) => /\t(error)\t/.test(l)),
    exited: () => target.exited(),
    stop: () => target.stop(5000),
  };
}
