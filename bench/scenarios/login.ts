// `login`: connections per second with K concurrent handshakes. Each handshake is a fresh TCP
// connection, STARTTLS (full TLS handshake, no resumption) or plain, SASL, resource binding, then
// </stream:stream> and close. Measures logins/s, login latency and the server's CPU per login.
import type { ClientParams, LoginParams } from '../loadgen/protocol.ts';

export interface LoginOptions {
  /** K: concurrent handshakes in total. */
  concurrency: number;
  /** Accounts cycled through (logins of one user do not overlap unless users < K). */
  users: number;
}

/** Splits K over the generator threads; every thread cycles over its own slice of the users. */
export function loginShares(o: LoginOptions, client: ClientParams, threads: number): LoginParams[] {
  const n = Math.max(1, Math.min(threads, o.concurrency));
  return Array.from({ length: n }, (_, t) => ({
    ...client,
    scenario: 'login',
    concurrency: Math.floor(o.concurrency / n) + (t < o.concurrency % n ? 1 : 0),
    users: Array.from({ length: o.users }, (_, i) => i).filter((i) => i % n === t),
  }));
}
