// Prosody (Debian's package, 0.12) as a benchmark target, in the shape of targets/waddle.ts.
// - Accounts are written straight into Prosody's `internal` storage files (data/<host>/accounts/
//   <user>.dat, Lua tables) in the `internal_hashed` format: SCRAM-SHA-1 StoredKey/ServerKey in hex,
//   salt, 4096 iterations, one salt for everyone (one PBKDF2 for all accounts, and the generator
//   derives its SCRAM key once). `prosodyctl register` per user costs a Lua start-up each.
// - Passwords are stored hashed, as waddle stores them: SASL PLAIN costs Prosody a PBKDF2 per login,
//   as it costs waddle. Prosody 0.12 offers only SCRAM-SHA-1 (not -256), so plain runs use SCRAM-SHA-1.
// - The server runs as root with `run_as_root = true` (Prosody refuses root otherwise) rather than
//   under `runuser -u prosody`: runuser forks, so the child pid would not be the Lua process whose
//   /proc CPU the harness reads, and the data directory would need chown. `taskset` and
//   `/usr/bin/env lua5.4` exec in place, so the pid the harness samples is the lua5.4 process.
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, selfSignedCert, spawnPeer } from './peer-process.ts';
import type { RunningTarget, TargetOptions } from './waddle.ts';

const TEMPLATE = fileURLToPath(new URL('./peers/prosody.cfg.lua', import.meta.url));
export const PROSODY_ITERATIONS = 4096;
/** The one salt of every bench account (any printable string works: Prosody stores it raw). */
export const PROSODY_SALT = 'waddle-bench-salt-0001';

/** Prosody's util/datamanager encoding of a node or host name into a file name (non-alnum → %XX). */
export function encodePathPart(s: string): string {
  return s.replace(/[^a-zA-Z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export interface ScramSha1Keys {
  storedKeyHex: string;
  serverKeyHex: string;
}

/** RFC 5802 §3 keys as Prosody's mod_auth_internal_hashed stores them (lower-case hex). */
export function scramSha1Keys(password: string, salt: string, iterations: number): ScramSha1Keys {
  const salted = pbkdf2Sync(password, salt, iterations, 20, 'sha1');
  const clientKey = createHmac('sha1', salted).update('Client Key').digest();
  return {
    storedKeyHex: createHash('sha1').update(clientKey).digest('hex'),
    serverKeyHex: createHmac('sha1', salted).update('Server Key').digest('hex'),
  };
}

/** The Lua table Prosody's `internal` storage keeps for one account. */
export function accountFile(keys: ScramSha1Keys, salt: string, iterations: number): string {
  const str = (s: string) => JSON.stringify(s); // hex and the fixed salt need no Lua-specific escapes
  return (
    'return {\n' +
    `\t["iteration_count"] = ${iterations};\n` +
    `\t["salt"] = ${str(salt)};\n` +
    `\t["server_key"] = ${str(keys.serverKeyHex)};\n` +
    `\t["stored_key"] = ${str(keys.storedKeyHex)};\n` +
    '};\n'
  );
}

export interface ProsodyConfigSlots {
  data: string;
  certdir: string;
  log: string;
  c2s: number;
  tls: number;
  requireTls: boolean;
  cert: string;
  key: string;
}

/** Fills the {{slot}} placeholders of a config template; throws on a slot left unfilled. */
export function fillTemplate(template: string, slots: Record<string, string | number | boolean>): string {
  const out = template.replace(/\{\{(\w+)\}\}/g, (m, name: string) => (name in slots ? String(slots[name]) : m));
  const left = /\{\{(\w+)\}\}/.exec(out);
  if (left) throw new Error(`config template slot {{${left[1]}}} has no value`);
  return out;
}

export function prosodyConfig(s: ProsodyConfigSlots): string {
  const { requireTls, ...rest } = s;
  return fillTemplate(readFileSync(TEMPLATE, 'utf8'), { ...rest, require_tls: requireTls });
}

/** Writes the accounts (bare JIDs on one host) into `dataDir/prosody-data`; returns how many were written. */
export async function provisionProsodyUsers(dataDir: string, users: readonly string[], password: string): Promise<number> {
  const keys = scramSha1Keys(password, PROSODY_SALT, PROSODY_ITERATIONS);
  const body = accountFile(keys, PROSODY_SALT, PROSODY_ITERATIONS);
  let written = 0;
  for (const jid of users) {
    const [local, host] = jid.split('@') as [string, string];
    const dir = join(dataDir, 'prosody-data', encodePathPart(host), 'accounts');
    if (written === 0) await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${encodePathPart(local)}.dat`), body);
    written++;
  }
  return written;
}

export async function startProsody(o: TargetOptions): Promise<RunningTarget> {
  const ports = { c2s: await freePort(), tls: await freePort(), http: 0 };
  const { cert, key } = selfSignedCert(o.dataDir);
  const log = join(o.dataDir, `prosody-${o.runId}.log`);
  const configFile = join(o.dataDir, `prosody-${o.runId}.cfg.lua`);
  await mkdir(join(o.dataDir, 'prosody-data'), { recursive: true });
  const slots = {
    data: join(o.dataDir, 'prosody-data'),
    certdir: o.dataDir,
    log,
    c2s: ports.c2s,
    tls: ports.tls,
    requireTls: !o.allowPlain,
    cert,
    key,
  };
  await writeFile(configFile, prosodyConfig(slots));
  return spawnPeer({
    argv: ['/usr/bin/prosody', '--config', configFile],
    env: process.env,
    cwd: o.dataDir,
    cpus: o.cpus,
    workerComm: 'lua5.4',
    readyPorts: [ports.c2s, ports.tls],
    ports,
    logFiles: [log],
    timeoutMs: 30_000,
  });
}
