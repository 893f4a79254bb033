// Main-thread side of the load generator: starts one worker thread per share of the load, walks
// them through the phases and measures the server over exactly the measured window (CPU per
// process and per thread from /proc, memory) and the generator's own CPU (to tell when the
// generator, not the server, was the limit). Every wait is bounded.
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { LatencyHistogram } from './histogram.ts';
import { type CpuWindow, clockTicksPerSecond, cpuBetween, hostBusyTicks, memory, snapshot } from './proc-stats.ts';
import { loadavg } from 'node:os';
import type { FromWorker, GenTarget, ReadyInfo, ScenarioParams, ToWorker, WorkerInit, WorkerReport } from './protocol.ts';

const WORKER_ENTRY = new URL('./worker.ts', import.meta.url);

export interface PhaseTimes {
  warmupMs: number;
  durationMs: number;
  graceMs: number;
  setupTimeoutMs: number;
}

export interface GeneratorOutcome {
  ready: ReadyInfo;
  /** Summed counters of every generator thread. */
  report: Omit<WorkerReport, 'latency' | 'sendLag'>;
  latency: LatencyHistogram;
  /** Open loop only (see DirectDriver). */
  sendLag: LatencyHistogram | null;
  server: CpuWindow;
  serverMemory: { peakRssMb: number; rssMb: number };
  /** Generator process CPU seconds in the window (all its threads). */
  generatorCpuSec: number;
  /**
   * Cores busy on the machine outside the server and the generator during the window: other jobs
   * on a shared machine, plus kernel network work (softirq) not charged to either process.
   */
  hostOtherCores: number;
  /** 1-minute load average when the window started. */
  loadAvg1: number;
  wallSec: number;
}

class GenWorker {
  readonly worker: Worker;
  readonly #queue: FromWorker[] = [];
  #waiter: ((m: FromWorker) => void) | null = null;
  #exited = false;

  constructor(init: WorkerInit) {
    this.worker = new Worker(WORKER_ENTRY, { workerData: init });
    this.worker.on('message', (m: FromWorker) => this.#push(m));
    this.worker.on('error', (err) => this.#push({ type: 'fatal', message: err.stack ?? String(err) }));
    this.worker.on('exit', () => {
      this.#exited = true;
      this.#push({ type: 'fatal', message: 'generator thread exited' });
    });
  }

  send(msg: ToWorker): void {
    if (!this.#exited) this.worker.postMessage(msg);
  }

  #push(m: FromWorker): void {
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w(m);
    } else this.#queue.push(m);
  }

  /** The next message of `type`; a 'fatal' one, or the timeout, rejects. */
  async next<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    const m =
      this.#queue.shift() ??
      (await new Promise<FromWorker>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#waiter = null;
          reject(new Error(`generator thread: no '${type}' within ${timeoutMs} ms`));
        }, timeoutMs);
        this.#waiter = (msg) => {
          clearTimeout(timer);
          resolve(msg);
        };
      }));
    if (m.type === 'fatal') throw new Error(`generator thread failed: ${m.message}`);
    if (m.type !== type) throw new Error(`generator thread: expected '${type}', got '${m.type}'`);
    return m as Extract<FromWorker, { type: T }>;
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.#exited) return;
    this.send({ type: 'close' });
    try {
      await this.next('closed', timeoutMs);
    } catch {
      // fall through to terminate
    }
    await this.worker.terminate();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs one measured run of `shares` (one per generator thread) against the server process `serverPid`. */
export async function runGenerators(
  target: GenTarget,
  serverPid: number,
  shares: ScenarioParams[],
  t: PhaseTimes,
): Promise<GeneratorOutcome> {
  const workers = shares.map((params, index) => new GenWorker({ index, target, params }));
  const ticks = clockTicksPerSecond();
  try {
    const readies = await Promise.all(workers.map((w) => w.next('ready', t.setupTimeoutMs)));
    const ready: ReadyInfo = { connections: 0, failed: 0, firstError: null };
    for (const { info } of readies) {
      ready.connections += info.connections;
      ready.failed += info.failed;
      ready.firstError ??= info.firstError;
    }
    if (ready.failed > 0) throw new Error(`${ready.failed} connections failed to log in; first error: ${ready.firstError}`);
    for (const w of workers) w.send({ type: 'go' });
    await sleep(t.warmupMs);
    for (const w of workers) w.send({ type: 'mark' });
    const loadAvg1 = loadavg()[0] ?? 0;
    const host0 = hostBusyTicks();
    const cpu0 = process.cpuUsage();
    const s0 = snapshot(serverPid, performance.now());
    await sleep(t.durationMs);
    for (const w of workers) w.send({ type: 'stop', graceMs: t.graceMs });
    const s1 = snapshot(serverPid, performance.now());
    const cpu1 = process.cpuUsage(cpu0);
    const host1 = hostBusyTicks();
    const serverMemory = memory(serverPid);
    const reports = await Promise.all(workers.map((w) => w.next('report', t.graceMs + 30_000)));
    const latency = new LatencyHistogram();
    let sendLag: LatencyHistogram | null = null;
    const report: Omit<WorkerReport, 'latency' | 'sendLag'> = {
      ops: 0,
      attempts: 0,
      errors: 0,
      lost: 0,
      skipped: 0,
      disconnects: 0,
      firstError: null,
    };
    for (const { report: r } of reports) {
      latency.merge(r.latency);
      if (r.sendLag) {
        sendLag ??= new LatencyHistogram();
        sendLag.merge(r.sendLag);
      }
      report.ops += r.ops;
      report.attempts += r.attempts;
      report.errors += r.errors;
      report.lost += r.lost;
      report.skipped += r.skipped;
      report.disconnects += r.disconnects;
      report.firstError ??= r.firstError;
    }
    const server = cpuBetween(s0, s1, ticks);
    const generatorCpuSec = (cpu1.user + cpu1.system) / 1e6;
    const hostOtherCores = Math.max(0, ((host1 - host0) / ticks - server.cpuSec - generatorCpuSec) / server.wallSec);
    return { ready, report, latency, sendLag, server, serverMemory, generatorCpuSec, hostOtherCores, loadAvg1, wallSec: server.wallSec };
  } finally {
    await Promise.all(workers.map((w) => w.close(5_000)));
  }
}
