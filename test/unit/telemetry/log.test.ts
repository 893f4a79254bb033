import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { createLogger } from '../../../src/telemetry/log.ts';

const logModule = pathToFileURL(resolve(import.meta.dirname, '../../../src/telemetry/log.ts')).href;

/** A pino destination that keeps the parsed lines. */
function capture(): { lines: Record<string, unknown>[]; write(s: string): void } {
  const lines: Record<string, unknown>[] = [];
  return { lines, write: (s) => void lines.push(JSON.parse(s) as Record<string, unknown>) };
}

t.test('every line is JSON and carries the shard; children add context', (t) => {
  const out = capture();
  const log = createLogger({ level: 'info', shard: 2, destination: out });
  log.info('started');
  log.child({ jid: 'romeo@example.org' }).warn({ stanzas: 3 }, 'slow client');
  log.debug('below the level');
  t.equal(out.lines.length, 2);
  t.match(out.lines[0], { level: 30, shard: 2, msg: 'started' });
  t.match(out.lines[1], { level: 40, shard: 2, jid: 'romeo@example.org', stanzas: 3, msg: 'slow client' });
  t.notOk('pid' in (out.lines[0] ?? {}), 'no pid/hostname noise');
  t.notOk('trace_id' in (out.lines[0] ?? {}), 'no trace ids outside a span');
  t.end();
});

t.test('shard defaults to primary; silent logs nothing', (t) => {
  const out = capture();
  createLogger({ level: 'info', destination: out }).info('x');
  t.equal(out.lines[0]?.shard, 'primary');
  const quiet = capture();
  createLogger({ level: 'silent', destination: quiet }).fatal('x');
  t.equal(quiet.lines.length, 0);
  t.end();
});

t.test('lines written by a worker thread reach stdout even when it exits at once', async (t) => {
  const dir = t.testdir({
    'worker.mjs': `
      import { createLogger } from ${JSON.stringify(logModule)};
      const log = createLogger({ level: 'info', shard: 1 });
      for (let i = 0; i < 2000; i++) log.info({ i }, 'line');
      process.exit(0); // ends the thread now: nothing may be left in a buffer
    `,
    'main.mjs': `
      import { Worker } from 'node:worker_threads';
      import { createLogger } from ${JSON.stringify(logModule)};
      const w = new Worker(new URL('./worker.mjs', import.meta.url));
      w.on('exit', () => createLogger({ level: 'info' }).info('worker gone'));
    `,
  });
  const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'main.mjs')], { maxBuffer: 16 << 20 });
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { shard: number | string; i?: number; msg: string });
  const fromWorker = lines.filter((l) => l.shard === 1);
  t.equal(fromWorker.length, 2000, 'all worker lines arrived, each whole');
  t.same(
    fromWorker.map((l) => l.i),
    Array.from({ length: 2000 }, (_, i) => i),
    'in order',
  );
  t.match(lines.at(-1), { shard: 'primary', msg: 'worker gone' });
});
