// The operator's `waddle` command, run as a real process: user add|passwd|del|list and check.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { connectRaw } from '../helpers/raw-client.ts';
import { startServerProcess } from '../helpers/server.ts';

const BIN = fileURLToPath(new URL('../../bin/waddle.js', import.meta.url));

function waddle(dataDir: string, args: string[], input?: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, WADDLE_DATA_DIR: dataDir, WADDLE_DOMAIN: 'localhost', WADDLE_WORKERS: '2', ...env },
    input: input ?? '',
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

t.test('user add, list, passwd, del', async (t) => {
  const dir = t.testdir();
  t.equal(waddle(dir, ['user', 'add', 'alice@localhost', '--password', 'one']).code, 0, 'add with --password');
  const fromStdin = waddle(dir, ['user', 'add', 'bob'], 'two\n');
  t.equal(fromStdin.code, 0, 'add reading the password from stdin, domain implied');
  t.match(fromStdin.out, /created bob@localhost/);
  const dup = waddle(dir, ['user', 'add', 'alice@localhost', '--password', 'x']);
  t.equal(dup.code, 1, 'adding twice fails');
  t.match(dup.err, /already exists/);
  t.equal(waddle(dir, ['user', 'add', 'eve@example.org', '--password', 'x']).code, 1, 'a foreign domain is refused');
  t.same(waddle(dir, ['user', 'list']).out.trim().split('\n'), ['alice@localhost', 'bob@localhost'], 'list');
  t.equal(waddle(dir, ['user', 'passwd', 'alice@localhost', '--password', 'three']).code, 0, 'passwd');
  t.equal(waddle(dir, ['user', 'passwd', 'nobody@localhost', '--password', 'x']).code, 1, 'passwd of an unknown user fails');

  // The new password works against a running server and the old one does not.
  const server = await startServerProcess({ dataDir: dir, workers: 2 });
  t.teardown(() => server.stop());
  const c = await connectRaw(server.c2sPort);
  await c.open();
  await c.startTls();
  await c.open();
  t.equal((await c.authPlain('alice', 'one')).name, 'failure', 'old password refused');
  t.equal((await c.authPlain('alice', 'three')).name, 'success', 'new password accepted');
  c.destroy();

  t.equal(waddle(dir, ['user', 'del', 'bob@localhost']).code, 0, 'del (while the server runs)');
  t.same(waddle(dir, ['user', 'list']).out.trim().split('\n'), ['alice@localhost']);
  t.equal(waddle(dir, ['user', 'del', 'bob@localhost']).code, 1, 'deleting twice fails');
});

t.test('user retention', async (t) => {
  const dir = t.testdir();
  t.equal(waddle(dir, ['user', 'add', 'alice@localhost', '--password', 'one']).code, 0);
  t.match(waddle(dir, ['user', 'retention', 'alice']).out, /alice@localhost: forever \(server default\)/, 'shows the default');
  const set = waddle(dir, ['user', 'retention', 'alice', '30']);
  t.equal(set.code, 0, set.err);
  t.match(set.out, /archive kept 30 days/);
  t.match(waddle(dir, ['user', 'retention', 'alice']).out, /alice@localhost: 30 days$/m, 'read back from the file');
  t.match(waddle(dir, ['user', 'retention', 'alice', 'forever']).out, /archive kept forever/);
  t.match(waddle(dir, ['user', 'retention', 'alice', 'default']).out, /as the server default/);
  t.equal(waddle(dir, ['user', 'retention', 'alice', 'soon']).code, 2, 'not a number of days');
  t.equal(waddle(dir, ['user', 'retention', 'nobody', '3']).code, 1, 'unknown user');
});

t.test('check validates config and certificate', async (t) => {
  const dir = t.testdir();
  const before = waddle(dir, ['check']);
  t.equal(before.code, 0, 'no certificate yet is fine');
  t.match(before.out, /will be generated/);
  t.match(before.out, /tls engine: lean/, 'says which TLS engine the server will run');
  t.match(waddle(dir, ['check'], '', { WADDLE_TLS_ENGINE: 'node' }).out, /tls engine: node:tls \(configured\)/);
  const server = await startServerProcess({ dataDir: dir, workers: 1 });
  await server.stop();
  const after = waddle(dir, ['check']);
  t.equal(after.code, 0, after.err);
  t.match(after.out, /certificate: ok/);
  // The generated certificate is for localhost: checking it for another domain reports the mismatch.
  const cfg = join(dir, 'other.toml');
  writeFileSync(
    cfg,
    `domain = "chat.example.org"\n[tls]\nkey = "${join(dir, 'tls', 'localhost.key')}"\ncert = "${join(dir, 'tls', 'localhost.crt')}"\n`,
  );
  const mismatch = waddle(dir, ['check', '--config', cfg], '', { WADDLE_DOMAIN: '' }); // empty: the file's domain applies
  t.equal(mismatch.code, 1, 'a certificate for another name fails the check');
  t.match(mismatch.err, /chat\.example\.org/, 'and says which name is not covered');
  const bad = join(dir, 'bad.toml');
  writeFileSync(bad, 'domian = "x"\n[c2s]\nport = 99999\n');
  const invalid = waddle(dir, ['check', '--config', bad]);
  t.equal(invalid.code, 1, 'invalid config exits 1');
  t.match(invalid.err, /domian/, 'names the unknown key');
  t.match(invalid.err, /c2s\.port/, 'names the bad port');
  t.equal(waddle(dir, ['frobnicate']).code, 2, 'unknown command exits 2');
});
