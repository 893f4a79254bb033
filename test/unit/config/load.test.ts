import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../../src/config/load.ts';

const repoRoot = resolve(import.meta.dirname, '../../..');

/** Runs loadConfig expecting a ConfigError and returns its problem lines. */
function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

t.test('defaults when no file exists', (t) => {
  const cwd = t.testdir({});
  const c = loadConfig({ cwd, env: {} });
  t.equal(c.domain, 'localhost');
  t.equal(c.dataDir, join(cwd, 'data'));
  t.equal(c.workers, Math.min(256, availableParallelism()));
  t.ok(['::', '0.0.0.0'].includes(c.c2s.host), `wildcard host ${c.c2s.host}`);
  t.same(c.c2s, {
    host: c.c2s.host,
    port: 5222,
    tlsPort: 5223,
    requireTls: true,
    maxStanzaBytes: 262144,
    idleTimeoutSec: 300,
    moveToHome: true,
  });
  t.same(c.http, { host: c.c2s.host, port: 5280 });
  t.same(c.tls, { key: null, cert: null, groups: null, engine: 'auto', handOff: true });
  t.equal(c.registration, false);
  t.same(c.admins, []);
  t.same(c.offline, { maxPerUser: 1000 });
  t.equal(c.ringBytes, 1048576);
  t.same(c.log, { level: 'info' });
  t.same(c.telemetry, { otlpEndpoint: null, serviceName: 'waddle' });
  t.end();
});

t.test('the example file documents exactly the defaults', (t) => {
  const cwd = t.testdir({});
  const fromExample = loadConfig({ cwd, env: {}, file: join(repoRoot, 'deploy/config.example.toml') });
  t.same(fromExample, loadConfig({ cwd, env: {} }));
  t.end();
});

const sampleToml = `
domain = "Example.ORG"
data_dir = "var/lib"
workers = 3
registration = true
admins = ["Admin@example.org", "ops@example.org"]
ring_bytes = 2097152
[c2s]
host = "127.0.0.1"
port = 0
tls_port = 0
require_tls = false
max_stanza_bytes = 65536
idle_timeout = 60
move_to_home = false
[http]
host = "127.0.0.1"
port = 0
[tls]
key = "certs/key.pem"
cert = "/etc/waddle/cert.pem"
groups = "X25519:P-256"
engine = "node"
hand_off = false
[offline]
max_per_user = 0
[log]
level = "debug"
[telemetry]
otlp_endpoint = "http://127.0.0.1:4318"
service_name = "waddle-test"
`;

t.test('reads a file, normalises names and resolves paths against cwd', (t) => {
  const cwd = t.testdir({ 'custom.toml': sampleToml });
  const c = loadConfig({ cwd, env: {}, file: 'custom.toml' });
  t.equal(c.domain, 'example.org');
  t.equal(c.dataDir, join(cwd, 'var/lib'));
  t.equal(c.workers, 3);
  t.equal(c.registration, true);
  t.same(c.admins, ['admin@example.org', 'ops@example.org']);
  t.equal(c.ringBytes, 2097152);
  t.same(c.c2s, {
    host: '127.0.0.1',
    port: 0,
    tlsPort: 0,
    requireTls: false,
    maxStanzaBytes: 65536,
    idleTimeoutSec: 60,
    moveToHome: false,
  });
  t.same(c.http, { host: '127.0.0.1', port: 0 });
  t.same(c.tls, { key: join(cwd, 'certs/key.pem'), cert: '/etc/waddle/cert.pem', groups: 'X25519:P-256', engine: 'node', handOff: false });
  t.same(c.offline, { maxPerUser: 0 });
  t.same(c.log, { level: 'debug' });
  t.same(c.telemetry, { otlpEndpoint: 'http://127.0.0.1:4318', serviceName: 'waddle-test' });
  t.end();
});

t.test('uses ./waddle.toml when no file is given', (t) => {
  const cwd = t.testdir({ 'waddle.toml': 'domain = "chat.example"\n' });
  t.equal(loadConfig({ cwd, env: {} }).domain, 'chat.example');
  t.end();
});

t.test('an explicitly given missing file is an error', (t) => {
  const cwd = t.testdir({});
  const problems = problemsOf(() => loadConfig({ cwd, env: {}, file: 'nope.toml' }));
  t.same(problems, [`${join(cwd, 'nope.toml')}: file not found`]);
  t.end();
});

t.test('a TOML syntax error names the file', (t) => {
  const cwd = t.testdir({ 'waddle.toml': 'domain = \n' });
  const [problem] = problemsOf(() => loadConfig({ cwd, env: {} }));
  t.match(problem, `${join(cwd, 'waddle.toml')}: TOML syntax error`);
  t.end();
});

t.test('environment overrides win over the file', (t) => {
  const cwd = t.testdir({ 'waddle.toml': sampleToml });
  const c = loadConfig({
    cwd,
    env: {
      WADDLE_DOMAIN: 'env.example',
      WADDLE_DATA_DIR: '/srv/waddle',
      WADDLE_WORKERS: '7',
      WADDLE_C2S_PORT: '15222',
      WADDLE_C2S_TLS_PORT: '15223',
      WADDLE_HTTP_PORT: '15280',
      WADDLE_REGISTRATION: 'no',
      WADDLE_ADMINS: ' a@env.example , b@env.example ,',
      WADDLE_LOG_LEVEL: 'warn',
      WADDLE_TLS_ENGINE: 'lean',
      WADDLE_TLS_HAND_OFF: 'false',
      WADDLE_OTLP_ENDPOINT: 'https://collector.example:4318',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored.example:4318',
    },
  });
  t.equal(c.domain, 'env.example');
  t.equal(c.dataDir, '/srv/waddle');
  t.equal(c.workers, 7);
  t.equal(c.c2s.port, 15222);
  t.equal(c.c2s.tlsPort, 15223);
  t.equal(c.http.port, 15280);
  t.equal(c.registration, false);
  t.same(c.admins, ['a@env.example', 'b@env.example']);
  t.equal(c.log.level, 'warn');
  t.equal(c.tls.engine, 'lean', 'WADDLE_TLS_ENGINE over the file');
  t.equal(c.tls.handOff, false, 'WADDLE_TLS_HAND_OFF');
  t.equal(c.telemetry.otlpEndpoint, 'https://collector.example:4318', 'WADDLE_ wins over OTEL_');
  t.equal(c.c2s.idleTimeoutSec, 60, 'keys without an env override keep the file value');
  t.end();
});

t.test('boolean spellings and the standard OTEL endpoint variable', (t) => {
  const cwd = t.testdir({});
  for (const [raw, want] of [
    ['1', true],
    ['YES', true],
    ['true', true],
    ['0', false],
    ['no', false],
    ['False', false],
  ] as const) {
    t.equal(loadConfig({ cwd, env: { WADDLE_REGISTRATION: raw } }).registration, want, raw);
  }
  const c = loadConfig({ cwd, env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' } });
  t.equal(c.telemetry.otlpEndpoint, 'http://127.0.0.1:4318');
  t.equal(loadConfig({ cwd, env: { WADDLE_DOMAIN: '' } }).domain, 'localhost', 'empty env var counts as unset');
  t.end();
});

t.test('bad values are all reported at once, naming file or variable and key', (t) => {
  const cwd = t.testdir({
    'waddle.toml': `
domain = "bad domain!"
workers = 0
admins = ["no-at-sign", "x@example.org/res", "ok@example.org"]
registration = "sure"
[c2s]
port = 70000
max_stanza_bytes = 100
[http]
port = 1.5
[tls]
key = "only-key.pem"
groups = "X25519:no-such-group"
engine = "openssl"
[log]
level = "loud"
[telemetry]
otlp_endpoint = "ftp://x"
`,
  });
  const file = join(cwd, 'waddle.toml');
  const problems = problemsOf(() => loadConfig({ cwd, env: { WADDLE_C2S_TLS_PORT: 'abc', WADDLE_REGISTRATION: 'maybe' } }));
  t.same(problems, [
    `${file}: domain: not a valid domain name: "bad domain!"`,
    `${file}: workers: expected an integer from 1 to 256, got 0`,
    `${file}: c2s.port: expected an integer from 0 to 65535, got 70000`,
    'env WADDLE_C2S_TLS_PORT (c2s.tls_port): expected an integer from 0 to 65535, got "abc"',
    `${file}: c2s.max_stanza_bytes: expected an integer from 10000 to 16777216, got 100`,
    `${file}: http.port: expected an integer from 0 to 65535, got 1.5`,
    `${file}: tls.groups: not a list of TLS groups OpenSSL knows: "X25519:no-such-group" (e.g. "X25519:P-256")`,
    `${file}: tls.engine: expected one of auto, lean, node, got "openssl"`,
    'env WADDLE_REGISTRATION (registration): expected true or false, got "maybe"',
    `${file}: admins: [0] expected a bare JID like user@domain, got "no-at-sign"; [1] expected a bare JID like user@domain, got "x@example.org/res"`,
    `${file}: log.level: expected one of trace, debug, info, warn, error, fatal, silent, got "loud"`,
    `${file}: telemetry.otlp_endpoint: expected an http:// or https:// URL, got "ftp://x"`,
    'tls: key and cert must be set together (or both left out for a self-signed certificate)',
  ]);
  t.end();
});

t.test('unknown keys and misplaced sections are errors with the key path', (t) => {
  const cwd = t.testdir({ 'waddle.toml': 'domian = "x.org"\nlog = "info"\n[c2s]\nprot = 5222\nextra = { a = 1 }\n' });
  const file = join(cwd, 'waddle.toml');
  const problems = problemsOf(() => loadConfig({ cwd, env: {} }));
  t.same(problems, [
    `${file}: log: expected a table ([log])`,
    `${file}: domian: unknown key (did you mean domain?)`,
    `${file}: c2s.prot: unknown key (did you mean c2s.port?)`,
    `${file}: c2s.extra: unknown key`,
  ]);
  t.end();
});

t.test('listeners on the same host may not share a port', (t) => {
  const cwd = t.testdir({});
  const problems = problemsOf(() => loadConfig({ cwd, env: { WADDLE_C2S_TLS_PORT: '5222' } }));
  t.same(problems, ['c2s.port, c2s.tls_port: both use port 5222']);
  const c = loadConfig({ cwd, env: { WADDLE_C2S_PORT: '0', WADDLE_C2S_TLS_PORT: '0', WADDLE_HTTP_PORT: '0' } });
  t.equal(c.c2s.port, 0, 'port 0 (any free port) may repeat');
  t.end();
});

t.test('the result is deep-frozen', (t) => {
  const cwd = t.testdir({ 'waddle.toml': 'admins = ["a@localhost"]\n' });
  const c = loadConfig({ cwd, env: {} });
  t.ok(Object.isFrozen(c));
  t.ok(Object.isFrozen(c.c2s));
  t.ok(Object.isFrozen(c.admins));
  t.throws(() => {
    (c.c2s as { port: number }).port = 1;
  }, TypeError);
  t.throws(() => (c.admins as string[]).push('b@localhost'), TypeError);
  t.end();
});

t.test('rings must be a power of two and hold several maximum-size stanzas', async (t) => {
  const cwd = t.testdir({
    'odd.toml': 'ring_bytes = 1000000\n',
    'small.toml': 'ring_bytes = 262144\n[c2s]\nmax_stanza_bytes = 262144\n',
    'ok.toml': 'ring_bytes = 2097152\n[c2s]\nmax_stanza_bytes = 524288\n',
  });
  t.throws(() => loadConfig({ cwd, env: {}, file: 'odd.toml' }), { message: /ring_bytes: must be a power of two/ });
  t.throws(() => loadConfig({ cwd, env: {}, file: 'small.toml' }), { message: /ring_bytes: must be at least 4 × c2s.max_stanza_bytes/ });
  t.equal(loadConfig({ cwd, env: {}, file: 'ok.toml' }).ringBytes, 2097152);
});
