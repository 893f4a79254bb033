// `npm test`: lint, the README's generated XEP table, type-check, then every tap test (unit, integration, interop), and a final
// "N passed, N failed" line counted from tap's own summary.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit' });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

const bin = (name: string) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
// `npm test -- test/unit/foo.test.ts` runs just those files, without the static checks.
const only = process.argv.slice(2);

if (only.length === 0) {
  console.log('# lint (biome)');
  if ((await run(bin('biome'), ['check', 'src', 'workers', 'test', 'bench', 'scripts', 'bin'])) !== 0) {
    console.log('0 passed, 1 failed: lint');
    process.exit(1);
  }
  console.log('# README XEP table (npm run doap -- --check)');
  if ((await run(process.execPath, [new URL('./doap.ts', import.meta.url).pathname, '--check'])) !== 0) {
    console.log('0 passed, 1 failed: README.md XEP table is stale');
    process.exit(1);
  }
  console.log('# type-check (tsc --noEmit)');
  if ((await run(bin('tsc'), ['--noEmit', '-p', 'tsconfig.json'])) !== 0) {
    console.log('0 passed, 1 failed: type-check');
    process.exit(1);
  }
}

console.log('# tests (tap)');
const tap = spawn(bin('tap'), ['--reporter=tap', ...only], { stdio: ['ignore', 'pipe', 'inherit'] });
let summary: { total: number; pass: number; fail: number; skip: number } | null = null;
createInterface({ input: tap.stdout }).on('line', (line) => {
  console.log(line);
  const m = /^# \{ (.*) \}$/.exec(line);
  if (m?.[1]) {
    const counts = Object.fromEntries(
      m[1]
        .split(', ')
        .map((kv) => kv.split(': '))
        .map(([k, v]) => [k, Number(v)]),
    );
    summary = { total: counts.total ?? 0, pass: counts.pass ?? 0, fail: counts.fail ?? 0, skip: (counts.skip ?? 0) + (counts.todo ?? 0) };
  }
});
const code: number = await new Promise((resolve) => tap.on('exit', (c) => resolve(c ?? 1)));
const s = summary as { total: number; pass: number; fail: number; skip: number } | null;
if (!s) {
  console.log('0 passed, 1 failed: tap printed no summary');
  process.exit(1);
}
const failed = s.fail + (code !== 0 && s.fail === 0 ? 1 : 0);
console.log(`${s.pass} passed, ${failed} failed${s.skip ? `, ${s.skip} skipped` : ''}`);
process.exit(code);
