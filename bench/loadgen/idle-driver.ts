// Generator thread of the `idle` scenario: logs in its share of users (bound, initial presence sent,
// RFC 6121 §4.2), then holds the connections without sending anything. Received bytes (the
// presence echo, any server ping) are counted and dropped, never parsed. Phases: setup → check →
// close (see bench/loadgen/phase-driver.ts).
import type net from 'node:net';
import { workerData } from 'node:worker_threads';
import { closeSocket } from './direct-driver.ts';
import { serveDriver } from './phase-driver.ts';
import type { ClientParams, GenTarget, ReadyInfo } from './protocol.ts';
import type { SaltedPasswordCache } from './scram-client.ts';
import { login } from './xmpp-login.ts';

export interface IdleInit {
  target: GenTarget;
  client: ClientParams;
  /** User indexes this thread logs in. */
  users: number[];
  connectConcurrency: number;
}

export interface IdleCheck {
  open: number;
  disconnects: number;
  bytesReceived: number;
  firstError: string | null;
}

export class IdleDriver {
  readonly #init: IdleInit;
  readonly #sockets: (net.Socket | null)[];
  readonly #scram: SaltedPasswordCache = new Map();
  #closing = false;
  #disconnects = 0;
  #bytes = 0;
  #firstError: string | null = null;

  constructor(init: IdleInit) {
    this.#init = init;
    this.#sockets = init.users.map(() => null);
  }

  async setup(): Promise<ReadyInfo> {
    const { users, client, target } = this.#init;
    let next = 0;
    let failed = 0;
    const one = async () => {
      while (next < users.length) {
        const i = next++;
        try {
          const s = await login({
            ...target,
            transport: client.transport,
            mechanism: client.mechanism,
            username: `u${users[i]}`,
            password: client.password,
            resource: 'idle',
            // Spread over the source addresses so that more than ~28k connections find ports.
            localAddress: client.localAddresses[(users[i] as number) % client.localAddresses.length],
            presence: true,
            timeoutMs: client.timeoutMs,
            scramCache: this.#scram,
          });
          this.#sockets[i] = s.socket;
          s.socket.on('data', (chunk: Buffer) => {
            this.#bytes += chunk.length;
          });
          s.socket.on('close', () => {
            this.#sockets[i] = null;
            if (!this.#closing) {
              this.#disconnects++;
              this.#firstError ??= `connection of u${users[i]} closed while idle`;
            }
          });
        } catch (err) {
          failed++;
          this.#firstError ??= String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#init.connectConcurrency, users.length) }, one));
    return { connections: users.length - failed, failed, firstError: this.#firstError };
  }

  check(): IdleCheck {
    return {
      open: this.#sockets.filter((s) => s !== null).length,
      disconnects: this.#disconnects,
      bytesReceived: this.#bytes,
      firstError: this.#firstError,
    };
  }

  async close(): Promise<void> {
    this.#closing = true;
    // Bounded concurrency: closing 10k TLS streams at once would itself be a load spike.
    const open = this.#sockets.filter((s): s is net.Socket => s !== null);
    for (let i = 0; i < open.length; i += 500) await Promise.all(open.slice(i, i + 500).map((s) => closeSocket(s, 2000)));
  }
}

if (workerData && (workerData as { driver?: string }).driver === 'idle') {
  const d = new IdleDriver(workerData as IdleInit);
  serveDriver({ setup: () => d.setup(), check: () => d.check(), close: () => d.close() });
}
