#!/usr/bin/env node
// Launcher: runs src/main.ts on Node.js 24. The machines this project runs on may have an older
// system Node, so the project brings Node 24 as an npm dependency (the `node` package) and uses it
// whenever the Node running this launcher is older than 24.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'src', 'main.ts');
const major = Number(process.versions.node.split('.')[0]);
const bundled = join(root, 'node_modules', '.bin', 'node');
const node = major >= 24 ? process.execPath : existsSync(bundled) ? bundled : null;
if (!node) {
  console.error(`waddle needs Node.js 24 or newer: run 'npm ci' in ${root} to install it locally.`);
  process.exit(1);
}
const child = spawn(node, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
