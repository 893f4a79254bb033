// CPU and memory of the server process from Linux /proc (proc(5)): utime+stime of the whole process
// and of every thread (/proc/<pid>/task/<tid>/stat, named by its comm), and VmHWM/VmRSS. Thread CPU
// is what tells whether one thread does per-stanza work for every connection.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadTicks {
  tid: number;
  name: string;
  ticks: number;
}

export interface ProcSnapshot {
  /** performance.now() when taken, ms */
  at: number;
  /** utime + stime of the whole process (includes threads that already exited), in clock ticks */
  ticks: number;
  threads: ThreadTicks[];
}

export interface ThreadCpu {
  /** comm, made unique by tid order when several threads share it (WorkerThread#1, #2…) */
  name: string;
  tid: number;
  cpuSec: number;
  /** Fraction of the whole process's CPU in the window. */
  share: number;
}

export interface CpuWindow {
  wallSec: number;
  cpuSec: number;
  /** CPU seconds per wall second: how many cores the process kept busy. */
  cores: number;
  threads: ThreadCpu[];
}

/** proc(5) stat: fields after the ')' that ends comm; utime is field 14 and stime field 15 (1-based). */
export function parseStat(text: string): { name: string; ticks: number } {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return { name: text.slice(open + 1, close), ticks: utime + stime };
}

/** Clock ticks per second (sysconf(_SC_CLK_TCK)); 100 on every Linux we know, asked once. */
export function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

export function snapshot(pid: number, now: number): ProcSnapshot {
  const proc = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const threads: ThreadTicks[] = [];
  for (const entry of readdirSync(`/proc/${pid}/task`)) {
    try {
      const t = parseStat(readFileSync(`/proc/${pid}/task/${entry}/stat`, 'utf8'));
      threads.push({ tid: Number(entry), name: t.name, ticks: t.ticks });
    } catch {
      // the thread exited between readdir and read
    }
  }
  return { at: now, ticks: proc.ticks, threads };
}

/** CPU used between two snapshots, per thread, busiest first. */
export function cpuBetween(a: ProcSnapshot, b: ProcSnapshot, ticksPerSec: number): CpuWindow {
  const wallSec = (b.at - a.at) / 1000;
  const cpuSec = (b.ticks - a.ticks) / ticksPerSec;
  const before = new Map(a.threads.map((t) => [t.tid, t.ticks]));
  const named = uniqueNames(b.threads);
  const threads = b.threads.map((t) => {
    const used = (t.ticks - (before.get(t.tid) ?? 0)) / ticksPerSec;
    return { name: named.get(t.tid) ?? t.name, tid: t.tid, cpuSec: used, share: cpuSec > 0 ? used / cpuSec : 0 };
  });
  threads.sort((x, y) => y.cpuSec - x.cpuSec);
  return { wallSec, cpuSec, cores: wallSec > 0 ? cpuSec / wallSec : 0, threads };
}

/** Threads sharing a comm get #1, #2… in tid order (creation order; shard workers start in shard order). */
function uniqueNames(threads: readonly ThreadTicks[]): Map<number, string> {
  const byName = new Map<string, ThreadTicks[]>();
  for (const t of threads) byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
  const out = new Map<number, string>();
  for (const [name, group] of byName) {
    if (group.length === 1) {
      out.set(group[0]?.tid ?? 0, name);
      continue;
    }
    for (const [i, t] of [...group].sort((x, y) => x.tid - y.tid).entries()) out.set(t.tid, `${name}#${i + 1}`);
  }
  return out;
}

/** Busy clock ticks of the whole machine (/proc/stat 'cpu' line: everything but idle and iowait). */
export function hostBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  return (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
}

/**
 * Waits (at most `maxMs`) until the machine's busy CPU over a 2-second sample is below `cores`: on a
 * shared machine other jobs distort both throughput and CPU per operation. Returns the last sample.
 */
export async function waitForQuietHost(maxMs: number, cores: number): Promise<{ busyCores: number; waitedMs: number }> {
  const ticks = clockTicksPerSecond();
  const started = Date.now();
  for (;;) {
    const before = hostBusyTicks();
    await new Promise((r) => setTimeout(r, 2000));
    const busyCores = (hostBusyTicks() - before) / ticks / 2;
    const waitedMs = Date.now() - started;
    if (busyCores < cores || waitedMs >= maxMs) return { busyCores, waitedMs };
  }
}

/** Peak (VmHWM) and current (VmRSS) resident memory in MiB. */
export function memory(pid: number): { peakRssMb: number; rssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { peakRssMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}
