// Loads the server configuration: TOML file, then WADDLE_* environment overrides, then
// validation of every value. All problems are reported at once in one ConfigError, and the
// result is deep-frozen so no shard can change configuration behind another's back.

import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parse, TomlDate, TomlError } from 'smol-toml';
import {
  type Config,
  checkBareJid,
  checkBool,
  checkDomain,
  checkHttpUrl,
  checkInt,
  checkList,
  checkLogLevel,
  checkNonEmpty,
  checkTlsGroups,
  checkOneOf,
  checkPort,
  DEFAULTS,
  InvalidValue,
  wildcardHost,
} from './schema.ts';

export class ConfigError extends Error {
  /** One line per problem: `<file or env VAR>: <key>: <problem>`. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadConfigOptions {
  /** TOML file; when given it must exist. When absent, ./waddle.toml is used if present. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Tables allowed at the top level of the TOML file. */
const SECTIONS = new Set(['c2s', 'http', 'tls', 'offline', 'stream_management', 'archive', 'muc', 'log', 'telemetry']);

// Environment values are strings; these turn them into what the TOML file would hold so that
// one check serves both. A value that does not convert is passed on as a string, and the
// check then reports it as wrong.
type EnvCoerce = (raw: string) => unknown;
const envString: EnvCoerce = (s) => s;
const envInt: EnvCoerce = (s) => (/^\s*\d+\s*$/.test(s) ? Number(s) : s);
const envBool: EnvCoerce = (s) => {
  const v = s.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  return s;
};
const envList: EnvCoerce = (s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

/** Looks each key up in the environment, then the file, then the default; collects problems. */
class Reader {
  readonly problems: string[] = [];
  readonly #file: string;
  readonly #values: Map<string, unknown>;
  readonly #env: NodeJS.ProcessEnv;
  readonly #known = new Set<string>();

  constructor(file: string, values: Map<string, unknown>, env: NodeJS.ProcessEnv) {
    this.#file = file;
    this.#values = values;
    this.#env = env;
  }

  get<T>(key: string, check: (v: unknown) => T, fallback: T, env: [string, EnvCoerce][] = []): T {
    this.#known.add(key);
    for (const [name, coerce] of env) {
      const raw = this.#env[name];
      // Empty means unset, as the OpenTelemetry specification says of its variables.
      if (raw === undefined || raw === '') continue;
      return this.#check(`env ${name} (${key})`, coerce(raw), check, fallback);
    }
    if (this.#values.has(key)) return this.#check(`${this.#file}: ${key}`, this.#values.get(key), check, fallback);
    return fallback;
  }

  problem(where: string, message: string): void {
    this.problems.push(`${where}: ${message}`);
  }

  /** Keys present in the file that no get() asked for: typos, reported with a suggestion. */
  reportUnknownKeys(): void {
    for (const key of this.#values.keys()) {
      if (this.#known.has(key)) continue;
      const near = [...this.#known].find((k) => editDistance(k, key) <= 2);
      this.problem(`${this.#file}: ${key}`, `unknown key${near === undefined ? '' : ` (did you mean ${near}?)`}`);
    }
  }

  #check<T>(where: string, value: unknown, check: (v: unknown) => T, fallback: T): T {
    try {
      return check(value);
    } catch (e) {
      if (!(e instanceof InvalidValue)) throw e;
      this.problem(where, e.message);
      return fallback;
    }
  }
}

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const { file, values, problems } = readFile(cwd, opts.file);
  const r = new Reader(file ?? '(no file)', values, env);
  for (const p of problems) r.problem(file ?? '(no file)', p);

  const wildcard = wildcardHost();
  const path = (v: string): string => resolve(cwd, v);
  const cores = Math.min(256, Math.max(1, availableParallelism()));

  const config: Config = {
    domain: r.get('domain', checkDomain, DEFAULTS.domain, [['WADDLE_DOMAIN', envString]]),
    dataDir: path(r.get('data_dir', checkNonEmpty, DEFAULTS.dataDir, [['WADDLE_DATA_DIR', envString]])),
    workers: r.get('workers', checkInt(1, 256), cores, [['WADDLE_WORKERS', envInt]]),
    c2s: {
      host: r.get('c2s.host', checkNonEmpty, wildcard),
      port: r.get('c2s.port', checkPort, DEFAULTS.c2s.port, [['WADDLE_C2S_PORT', envInt]]),
      tlsPort: r.get('c2s.tls_port', checkPort, DEFAULTS.c2s.tlsPort, [['WADDLE_C2S_TLS_PORT', envInt]]),
      requireTls: r.get('c2s.require_tls', checkBool, DEFAULTS.c2s.requireTls),
      // RFC 6120 §13.12 item 4: servers MUST accept stanzas of at least 10,000 bytes.
      maxStanzaBytes: r.get('c2s.max_stanza_bytes', checkInt(10_000, 16 * 1024 * 1024), DEFAULTS.c2s.maxStanzaBytes),
      idleTimeoutSec: r.get('c2s.idle_timeout', checkInt(1, 86_400), DEFAULTS.c2s.idleTimeoutSec),
      moveToHome: r.get('c2s.move_to_home', checkBool, DEFAULTS.c2s.moveToHome, [['WADDLE_C2S_MOVE_TO_HOME', envBool]]),
    },
    http: {
      host: r.get('http.host', checkNonEmpty, wildcard),
      port: r.get('http.port', checkPort, DEFAULTS.http.port, [['WADDLE_HTTP_PORT', envInt]]),
    },
    tls: {
      key: nullablePath(r.get<string | null>('tls.key', checkNonEmpty, null), path),
      cert: nullablePath(r.get<string | null>('tls.cert', checkNonEmpty, null), path),
      groups: r.get<string | null>('tls.groups', checkTlsGroups, null, [['WADDLE_TLS_GROUPS', envString]]),
      engine: r.get('tls.engine', checkOneOf(['auto', 'lean', 'node'] as const), DEFAULTS.tls.engine, [['WADDLE_TLS_ENGINE', envString]]),
      handOff: r.get('tls.hand_off', checkBool, DEFAULTS.tls.handOff, [['WADDLE_TLS_HAND_OFF', envBool]]),
    },
    registration: r.get('registration', checkBool, DEFAULTS.registration, [['WADDLE_REGISTRATION', envBool]]),
    admins: r.get('admins', checkList(checkBareJid), [], [['WADDLE_ADMINS', envList]]),
    offline: { maxPerUser: r.get('offline.max_per_user', checkInt(0, 1_000_000), DEFAULTS.offline.maxPerUser) },
    streamManagement: {
      resumeTimeoutSec: r.get('stream_management.resume_timeout', checkInt(0, 86_400), DEFAULTS.streamManagement.resumeTimeoutSec),
      maxUnacked: r.get('stream_management.max_unacked', checkInt(10, 1_000_000), DEFAULTS.streamManagement.maxUnacked),
    },
    archive: {
      enabled: r.get('archive.enabled', checkBool, DEFAULTS.archive.enabled, [['WADDLE_ARCHIVE_ENABLED', envBool]]),
      defaultPolicy: r.get('archive.default_policy', checkOneOf(['always', 'roster', 'never'] as const), DEFAULTS.archive.defaultPolicy),
      retentionDays: r.get('archive.retention_days', checkInt(0, 36_500), DEFAULTS.archive.retentionDays),
      maxPageSize: r.get('archive.max_page_size', checkInt(1, 10_000), DEFAULTS.archive.maxPageSize),
      sweepIntervalSec: r.get('archive.sweep_interval', checkInt(1, 86_400), DEFAULTS.archive.sweepIntervalSec),
    },
    muc: {
      historyMessages: r.get('muc.history_messages', checkInt(0, 1000), DEFAULTS.muc.historyMessages),
      maxOccupants: r.get('muc.max_occupants', checkInt(1, 1_000_000), DEFAULTS.muc.maxOccupants),
      createRooms: r.get('muc.create_rooms', checkOneOf(['anyone', 'admins'] as const), DEFAULTS.muc.createRooms),
    },
    ringBytes: r.get('ring_bytes', checkInt(64 * 1024, 1024 * 1024 * 1024), DEFAULTS.ringBytes),
    log: { level: r.get('log.level', checkLogLevel, DEFAULTS.log.level, [['WADDLE_LOG_LEVEL', envString]]) },
    telemetry: {
      otlpEndpoint: r.get<string | null>('telemetry.otlp_endpoint', checkHttpUrl, null, [
        ['WADDLE_OTLP_ENDPOINT', envString],
        ['OTEL_EXPORTER_OTLP_ENDPOINT', envString],
      ]),
      serviceName: r.get('telemetry.service_name', checkNonEmpty, DEFAULTS.telemetry.serviceName),
    },
  };
  r.reportUnknownKeys();
  checkCombinations(config, r);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return deepFreeze(config);
}

function checkCombinations(c: Config, r: Reader): void {
  if ((c.tls.key === null) !== (c.tls.cert === null)) {
    r.problem('tls', 'key and cert must be set together (or both left out for a self-signed certificate)');
  }
  // A ring's largest frame is half its capacity (src/transport/sab-ring.ts), and a stanza routed between
  // shards is re-serialised (escaping may grow it), so each ring must hold several maximum-size stanzas.
  if ((c.ringBytes & (c.ringBytes - 1)) !== 0) r.problem('ring_bytes', `must be a power of two, got ${c.ringBytes}`);
  if (c.ringBytes < 4 * c.c2s.maxStanzaBytes) {
    r.problem('ring_bytes', `must be at least 4 × c2s.max_stanza_bytes (${4 * c.c2s.maxStanzaBytes}), got ${c.ringBytes}`);
  }
  const listeners: [string, string, number][] = [
    ['c2s.port', c.c2s.host, c.c2s.port],
    ['c2s.tls_port', c.c2s.host, c.c2s.tlsPort],
    ['http.port', c.http.host, c.http.port],
  ];
  for (const [i, [a, hostA, portA]] of listeners.entries()) {
    for (const [b, hostB, portB] of listeners.slice(i + 1)) {
      if (portA !== 0 && portA === portB && hostA === hostB) r.problem(`${a}, ${b}`, `both use port ${portA}`);
    }
  }
}

interface FileValues {
  file: string | undefined;
  values: Map<string, unknown>;
  problems: string[];
}

function readFile(cwd: string, given: string | undefined): FileValues {
  const values = new Map<string, unknown>();
  const problems: string[] = [];
  const file = given === undefined ? resolve(cwd, 'waddle.toml') : resolve(cwd, given);
  if (given === undefined && !existsSync(file)) return { file: undefined, values, problems };
  let doc: Record<string, unknown>;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new ConfigError([`${file}: file not found`]);
    if (e instanceof TomlError) throw new ConfigError([`${file}: TOML syntax error: ${e.message}`]);
    throw new ConfigError([`${file}: ${err.message}`]);
  }
  for (const [key, value] of Object.entries(doc)) {
    if (!SECTIONS.has(key)) {
      values.set(key, value);
    } else if (isTable(value)) {
      for (const [sub, v] of Object.entries(value)) values.set(`${key}.${sub}`, v);
    } else {
      problems.push(`${key}: expected a table ([${key}])`);
    }
  }
  return { file, values, problems };
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof TomlDate);
}

function nullablePath(v: string | null, path: (v: string) => string): string | null {
  return v === null ? null : path(v);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Levenshtein distance, for "did you mean" on unknown keys (keys are short; O(n·m) is fine). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
