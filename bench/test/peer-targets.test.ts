// Unit tests of the peer-server targets' pure helpers (no server started): Prosody's account file
// format and SCRAM keys, the config templates, the /proc lookup of the worker process, the target
// registry. Run: PATH=node_modules/.bin:$PATH npx tap bench/test/peer-targets.test.ts
import { createHash, createHmac } from 'node:crypto';
import t from 'tap';
import { ScramClient } from '../loadgen/scram-client.ts';
import { ejabberdConfig, erlArgv, nodeName } from '../targets/ejabberd.ts';
import { findProcess, parseProcEntry, type ProcEntry } from '../targets/peer-process.ts';
import {
  accountFile,
  encodePathPart,
  fillTemplate,
  PROSODY_ITERATIONS,
  PROSODY_SALT,
  prosodyConfig,
  scramSha1Keys,
} from '../targets/prosody.ts';
import { targetNamed } from '../targets/registry.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ (b[i] as number)));

t.test('Prosody SCRAM-SHA-1 keys let the generator log in and verify the server (RFC 5802 §3)', async (t) => {
  const keys = scramSha1Keys('bench-password-1', PROSODY_SALT, PROSODY_ITERATIONS);
  t.match(keys.storedKeyHex, /^[0-9a-f]{40}$/);
  t.match(keys.serverKeyHex, /^[0-9a-f]{40}$/);
  // Play the server's side with only what Prosody stores: StoredKey, ServerKey, salt, iterations.
  const client = new ScramClient('SHA-1', 'u1', 'bench-password-1', new Map());
  const clientFirstBare = client.clientFirst().replace(/^n,,/, '');
  const clientNonce = /r=([^,]+)/.exec(clientFirstBare)?.[1] ?? '';
  const serverFirst = `r=${clientNonce}srv,s=${b64(PROSODY_SALT)},i=${PROSODY_ITERATIONS}`;
  const clientFinal = client.clientFinal(serverFirst);
  const withoutProof = clientFinal.slice(0, clientFinal.indexOf(',p='));
  const proof = Buffer.from(clientFinal.slice(clientFinal.indexOf(',p=') + 3), 'base64');
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const storedKey = Buffer.from(keys.storedKeyHex, 'hex');
  const clientKey = xor(proof, createHmac('sha1', storedKey).update(authMessage).digest());
  t.equal(createHash('sha1').update(clientKey).digest('hex'), keys.storedKeyHex, 'the proof checks against StoredKey');
  const serverSig = createHmac('sha1', Buffer.from(keys.serverKeyHex, 'hex')).update(authMessage).digest('base64');
  t.ok(client.verifyServerFinal(`v=${serverSig}`), 'ServerKey signs what the client expects');
  const other = scramSha1Keys('another', PROSODY_SALT, PROSODY_ITERATIONS);
  t.not(other.storedKeyHex, keys.storedKeyHex, 'another password gives other keys');
});

t.test('Prosody account file is the Lua table mod_auth_internal_hashed reads', async (t) => {
  const text = accountFile({ storedKeyHex: 'ab', serverKeyHex: 'cd' }, 'salty', 4096);
  t.match(text, /^return \{\n/);
  t.match(text, /\["iteration_count"\] = 4096;/);
  t.match(text, /\["salt"\] = "salty";/);
  t.match(text, /\["stored_key"\] = "ab";/);
  t.match(text, /\["server_key"\] = "cd";/);
  t.match(text, /\};\n$/);
});

t.test('Prosody path encoding escapes everything but ASCII letters and digits', async (t) => {
  t.equal(encodePathPart('u12'), 'u12');
  t.equal(encodePathPart('local.host'), 'local%2ehost');
  t.equal(encodePathPart('a-b_c'), 'a%2db%5fc');
});

t.test('config templates: every slot filled, TLS requirement follows the run', async (t) => {
  t.equal(fillTemplate('a {{x}} b {{y}}', { x: 1, y: true }), 'a 1 b true');
  t.throws(() => fillTemplate('a {{x}} {{z}}', { x: 1 }), /\{\{z\}\} has no value/);
  const slots = { data: '/d', certdir: '/c', log: '/l', c2s: 5001, tls: 5002, cert: '/c/cert.pem', key: '/c/key.pem' };
  const strict = prosodyConfig({ ...slots, requireTls: true });
  t.match(strict, /c2s_ports = \{ 5001 \}/);
  t.match(strict, /c2s_direct_tls_ports = \{ 5002 \}/);
  t.match(strict, /c2s_require_encryption = true/);
  t.match(strict, /run_as_root = true/);
  t.notMatch(strict, /"mam"[;,]?\s*\n?\s*"roster"/, 'mam is not enabled');
  t.match(prosodyConfig({ ...slots, requireTls: false }), /c2s_require_encryption = false/);
  const ej = ejabberdConfig({ pem: '/p.pem', c2s: 6001, tls: 6002, http: 6003, requireTls: false });
  t.match(ej, /port: 6001[\s\S]*starttls_required: false/);
  t.match(ej, /port: 6002[\s\S]*tls: true/);
  t.match(ej, /port: 6003[\s\S]*mod_http_api/);
  t.equal(ej.match(/backlog: 4096/g)?.length, 2, 'both c2s listeners take bursts (default backlog is 5)');
  t.equal(ej.match(/shaper: none/g)?.length, 2, 'no shaper on c2s');
  t.notMatch(ej, /mod_mam/);
  t.match(ejabberdConfig({ pem: '/p.pem', c2s: 1, tls: 2, http: 3, requireTls: true }), /starttls_required: true/);
});

t.test('ejabberd node name is stable per data directory, and erl gets the spool quoted', async (t) => {
  t.equal(nodeName('/tmp/a'), nodeName('/tmp/a'));
  t.not(nodeName('/tmp/a'), nodeName('/tmp/b'));
  t.match(nodeName('/tmp/a'), /^wbench[0-9a-f]{10}@localhost$/);
  const argv = erlArgv('n@localhost', '/tmp/s p');
  t.same(argv.slice(argv.indexOf('-mnesia'), argv.indexOf('-mnesia') + 3), ['-mnesia', 'dir', '"/tmp/s p"']);
});

t.test('the worker process is found below the spawned one by comm', async (t) => {
  t.same(parseProcEntry('123 (beam.smp) S 99 123 123 0 -1'), { pid: 123, ppid: 99, comm: 'beam.smp' });
  t.same(parseProcEntry('7 (a) b) R 1 7'), { pid: 7, ppid: 1, comm: 'a) b' }, 'comm may hold ") "');
  const table: ProcEntry[] = [
    { pid: 10, ppid: 1, comm: 'taskset' },
    { pid: 11, ppid: 10, comm: 'sh' },
    { pid: 12, ppid: 11, comm: 'beam.smp' },
    { pid: 13, ppid: 1, comm: 'beam.smp' },
    { pid: 14, ppid: 12, comm: 'inet_gethost' },
  ];
  t.equal(findProcess(table, 10, 'beam.smp'), 12, 'a grandchild, not an unrelated process');
  t.equal(findProcess(table, 13, 'beam.smp'), 13, 'the process itself when exec kept the pid');
  t.equal(findProcess(table, 10, 'lua5.4'), null);
});

t.test('targets are looked up by name', async (t) => {
  t.equal(targetNamed('prosody').plainMechanism, 'SCRAM-SHA-1', 'Prosody 0.12 has no SCRAM-SHA-256');
  t.equal(targetNamed('ejabberd').name, 'ejabberd');
  t.equal(targetNamed('waddle').plainMechanism, 'SCRAM-SHA-256');
  t.throws(() => targetNamed('openfire'), /unknown --target 'openfire'/);
  t.throws(() => targetNamed('toString'), /unknown --target/);
});
