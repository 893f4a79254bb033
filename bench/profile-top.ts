// Top self-time functions of V8 .cpuprofile files (written by `node --cpu-prof`, one per thread:
// CPU.<date>.<pid>.<threadId>.<seq>.cpuprofile, threadId 0 being the main thread). Self time is
// summed from the sample time deltas, so it is wall-clock time spent on CPU in that function;
// '(idle)' is left out of the shares.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  selfMs: number;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function where(frame: CallFrame): string {
  if (!frame.url) return '';
  const path = frame.url.startsWith('file://') ? relative(ROOT, fileURLToPath(frame.url)) : frame.url;
  return `${path}:${frame.lineNumber + 1}`;
}

/** Self time per function (by name and location), largest first, '(idle)' excluded; plus the busy total. */
export function selfTimes(profile: CpuProfile): { busyMs: number; functions: FunctionTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const totals = new Map<string, FunctionTime>();
  let busyMs = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id);
    // timeDeltas[i] is the time since the previous sample; attribute it to this sample's function.
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!frame || frame.functionName === '(idle)') return;
    busyMs += ms;
    const name = frame.functionName || '(anonymous)';
    const at = where(frame);
    const key = `${name} ${at}`;
    const t = totals.get(key) ?? { name, where: at, selfMs: 0 };
    t.selfMs += ms;
    totals.set(key, t);
  });
  return { busyMs, functions: [...totals.values()].sort((a, b) => b.selfMs - a.selfMs) };
}

function table(busyMs: number, functions: readonly FunctionTime[], top: number): string {
  const lines = ['| self ms | share of busy | function | location |', '|---|---|---|---|'];
  for (const f of functions.slice(0, top)) {
    lines.push(`| ${f.selfMs.toFixed(0)} | ${((f.selfMs / busyMs) * 100).toFixed(1)}% | \`${f.name}\` | ${f.where || '(native)'} |`);
  }
  return lines.join('\n');
}

/** Prints, per thread profile and for all of them together, the `top` functions by self time. */
export function printProfileTop(dir: string, top: number): void {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  if (files.length === 0) throw new Error(`no .cpuprofile files in ${dir}`);
  const all = new Map<string, FunctionTime>();
  let allBusy = 0;
  for (const file of files) {
    const { busyMs, functions } = selfTimes(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
    const thread = /\.\d+\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1];
    console.log(`\n### ${file} (thread ${thread === '0' ? 'main' : `worker ${thread}`}, busy ${busyMs.toFixed(0)} ms)\n`);
    console.log(table(busyMs, functions, top));
    allBusy += busyMs;
    for (const f of functions) {
      const key = `${f.name} ${f.where}`;
      const t = all.get(key) ?? { ...f, selfMs: 0 };
      t.selfMs += f.selfMs;
      all.set(key, t);
    }
  }
  console.log(`\n### all threads (busy ${allBusy.toFixed(0)} ms)\n`);
  console.log(
    table(
      allBusy,
      [...all.values()].sort((a, b) => b.selfMs - a.selfMs),
      top,
    ),
  );
}
