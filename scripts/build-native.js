// Builds the lean TLS addon (src/tls/lean) with node-gyp against the headers of the Node that runs this
// script (the project's Node 24 under `npm ci`: node_modules/.bin comes first on npm's PATH), so the
// addon links the same OpenSSL the server runs with. Run by `npm ci` (postinstall) and `npm run build:native`.
//
// A failed build does not fail the install: `[tls] engine = "auto"` (the default) then falls back to
// node:tls and says so in the log. `--strict` (CI) makes it an error.
//
// Plain JavaScript on purpose: npm runs postinstall with whatever Node it finds first, and a Node older than
// 22.6 cannot strip TypeScript types (the addon itself uses N-API, so headers of any Node >= 18 work).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const strict = process.argv.includes('--strict');
const dir = new URL('../src/tls/lean/', import.meta.url).pathname;

/** npm tells its scripts where its own node-gyp is; a local one (a dev dependency's) will do otherwise. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return null;
  }
}

function fail(why) {
  console.error(`build-native: ${why}`);
  console.error('build-native: the server will use node:tls for client TLS (more memory per connection)');
  process.exit(strict ? 1 : 0);
}

const gyp = nodeGyp();
if (gyp === null) fail('node-gyp not found');
// The running Node's own headers (include/node, with OpenSSL's) sit beside its bin/ directory in both the
// `node` npm package and distribution installs; node-gyp would otherwise try to download them.
const nodeDir = dirname(dirname(process.execPath));
const args = [gyp, 'rebuild', '--directory', dir];
if (existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodeDir}`);
const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
if (result.status !== 0) fail(`node-gyp exited with ${result.status ?? result.signal}`);
console.log(`build-native: built ${join(dir, 'build/Release/lean_tls.node')} for Node ${process.version}`);
