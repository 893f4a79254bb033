import t from 'tap';
import { SerialQueue } from '../../../src/shard/serial-queue.ts';

t.test('call() runs at once when idle and keeps arrival order behind an async task', async (t) => {
  const errors: unknown[] = [];
  const q = new SerialQueue((err) => errors.push(err));
  const seen: string[] = [];
  const record = (what: string, when: string) => {
    seen.push(`${what}:${when}`);
  };
  q.call(record, 'a', 'sync');
  t.same(seen, ['a:sync'], 'an idle queue runs the call synchronously');
  let release: () => void = () => {};
  q.call(
    (what: string, _: number) =>
      new Promise<void>((resolve) => {
        seen.push(`${what}:start`);
        release = () => {
          seen.push(`${what}:end`);
          resolve();
        };
      }),
    'b',
    0,
  );
  q.call(record, 'c', 'queued');
  q.push(() => record('d', 'pushed'));
  t.same(seen, ['a:sync', 'b:start'], 'later calls wait for the pending task');
  t.equal(q.size, 2);
  release();
  await new Promise((r) => setImmediate(r));
  t.same(seen, ['a:sync', 'b:start', 'b:end', 'c:queued', 'd:pushed'], 'then run in arrival order');
  t.equal(q.size, 0);
  q.call(
    () => {
      throw new Error('boom');
    },
    0,
    0,
  );
  q.call(record, 'e', 'after a throw');
  t.same(seen.at(-1), 'e:after a throw', 'a throwing task does not stop the queue');
  t.equal(errors.length, 1);
});
