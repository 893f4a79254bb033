import t from 'tap';
import { type RunRecord, scalingTable } from '../report.ts';

/** Just the fields scalingTable reads. */
function rec(run: number, workers: number, us: number, share: number): RunRecord {
  return { run, config: { workers }, serverCpuUsPerOp: us, busiestThread: { name: 'w', cpuSec: 1, share } } as unknown as RunRecord;
}

t.test('scaling table: each worker count against the first, run by run', (t) => {
  const table = scalingTable([
    rec(1, 1, 10, 0.9),
    rec(1, 2, 12, 0.45),
    rec(2, 1, 20, 0.9),
    rec(2, 2, 22, 0.46),
    rec(3, 1, 10, 0.9),
    rec(3, 2, 11, 0.44),
  ]);
  const rows = table.split('\n');
  t.equal(rows.length, 4, 'header, rule, one row per worker count');
  t.match(rows[2], /^\| 1 \| 10\.0, 20\.0, 10\.0 \| 10\.0 \| 1\.00, 1\.00, 1\.00 \| 1\.00 \| 90% \|$/);
  // Ratios 1.2, 1.1, 1.1: median 1.10, while the medians of the runs alone (10 vs 12) would say 1.2.
  t.match(rows[3], /^\| 2 \| 12\.0, 22\.0, 11\.0 \| 12\.0 \| 1\.20, 1\.10, 1\.10 \| 1\.10 \| 45% \|$/);
  t.end();
});
