// Generator side of the `login` scenario: `concurrency` loops, each doing a full login (TCP, TLS
// handshake without session resumption, SASL, bind) and closing the stream, then starting over with
// the next user. Login latency is connect → bind result; the close is part of the server's cost but
// not of the latency.
import { performance } from 'node:perf_hooks';
import { closeSocket } from './direct-driver.ts';
import { LatencyHistogram } from './histogram.ts';
import type { Driver, GenTarget, LoginParams, ReadyInfo, WorkerReport } from './protocol.ts';
import type { SaltedPasswordCache } from './scram-client.ts';
import { login } from './xmpp-login.ts';

export class LoginDriver implements Driver {
  readonly #p: LoginParams;
  readonly #target: GenTarget;
  readonly #hist = new LatencyHistogram();
  readonly #scram: SaltedPasswordCache = new Map();
  readonly #loops: Promise<void>[] = [];
  #running = false;
  #measuring = false;
  #next = 0;
  #ops = 0;
  #attempts = 0;
  #errors = 0;
  #firstError: string | null = null;

  constructor(target: GenTarget, params: LoginParams) {
    this.#target = target;
    this.#p = params;
  }

  async setup(): Promise<ReadyInfo> {
    return { connections: 0, failed: 0, firstError: null };
  }

  go(): void {
    this.#running = true;
    for (let i = 0; i < this.#p.concurrency; i++) this.#loops.push(this.#loop());
  }

  mark(): void {
    this.#measuring = true;
    this.#ops = this.#attempts = this.#errors = 0;
    this.#hist.reset();
  }

  async stop(graceMs: number): Promise<WorkerReport> {
    this.#measuring = false;
    this.#running = false;
    const report = { ops: this.#ops, attempts: this.#attempts, errors: this.#errors };
    await Promise.race([Promise.all(this.#loops), new Promise((r) => setTimeout(r, graceMs + this.#p.timeoutMs))]);
    return { ...report, lost: 0, skipped: 0, disconnects: 0, latency: this.#hist.toData(), sendLag: null, firstError: this.#firstError };
  }

  async close(): Promise<void> {
    this.#running = false;
  }

  async #loop(): Promise<void> {
    const users = this.#p.users;
    while (this.#running) {
      const n = this.#next++;
      const user = users[n % users.length] as number;
      const measured = this.#measuring;
      if (measured) this.#attempts++;
      const started = performance.now();
      try {
        const s = await login({
          ...this.#target,
          transport: this.#p.transport,
          mechanism: this.#p.mechanism,
          username: `u${user}`,
          password: this.#p.password,
          resource: null,
          localAddress: this.#p.localAddresses[n % this.#p.localAddresses.length],
          presence: false,
          timeoutMs: this.#p.timeoutMs,
          scramCache: this.#scram,
        });
        // Counted only when the whole login happened inside the window.
        if (measured && this.#measuring) {
          this.#ops++;
          this.#hist.record((performance.now() - started) * 1000);
        }
        await closeSocket(s.socket);
      } catch (err) {
        if (measured && this.#measuring) this.#errors++;
        this.#firstError ??= String(err);
        // Do not spin on a refusing server.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }
}
