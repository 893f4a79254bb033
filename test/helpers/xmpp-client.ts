// A thin test wrapper around @xmpp/client (xmpp.js), a real third-party client: connect, wait for
// stanzas matching a predicate, and stop without reconnecting.
import { client, type XmppClient } from '@xmpp/client';
import type { Element } from '../../src/xmpp/xml.ts';

// The server uses a self-signed certificate made at first start; the tests trust it blindly.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

export interface TestXmpp {
  xmpp: XmppClient;
  jid: string;
  received: Element[];
  waitFor(pred: (el: Element) => boolean, timeoutMs?: number, what?: string): Promise<Element>;
  /** Fails if a matching stanza arrives within `ms`. */
  expectNone(pred: (el: Element) => boolean, ms?: number): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * A raw xmpp.js client for tests that drive its lifecycle themselves (stream management, FAST):
 * STARTTLS on `port`, no automatic reconnect unless asked, errors swallowed (tests assert on outcomes).
 */
export function newXmppJs(opts: { port: number; username: string; password: string; resource: string; reconnect?: boolean }): XmppClient {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${opts.port}`,
    domain: 'localhost',
    username: opts.username,
    password: opts.password,
    resource: opts.resource,
    // xmpp.js waits 2 s per step by default; CI runs two server processes on two cores at once.
    timeout: 15_000,
  });
  xmpp.on('error', () => {});
  if (!opts.reconnect) xmpp.reconnect.stop();
  return xmpp;
}

/**
 * `xmpp.start()` without an xmpp.js race: its Connection.open() writes the stream header, awaits the write's
 * callback and only then listens for 'open'. A server that answers before that callback runs (loopback, and
 * more often the faster the server) makes 'open' fire with nobody listening: the client still logs in
 * (status 'online') but start() waits for the lost event until its timeout. Seen with both TLS engines
 * (a repro: one hang in ~5 direct-TLS logins). So this resolves at 'online', and fails with start()'s error
 * only when that comes first.
 */
export function startXmppJs(xmpp: XmppClient): Promise<void> {
  return new Promise((resolve, reject) => {
    let online = false;
    xmpp.once('online', () => {
      online = true;
      resolve();
    });
    xmpp.start().then(
      () => resolve(),
      (err: unknown) => {
        if (!online) reject(err);
      },
    );
  });
}

/** Two users whose bare JIDs are homed on different shards, so everything between them crosses the rings. */
export function usersOnDifferentShards(placement: { shardOf(jid: string): number }): [string, string] {
  const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
  const a = names[0] as string;
  const b = names.find((n) => placement.shardOf(`${n}@localhost`) !== placement.shardOf(`${a}@localhost`)) as string;
  return [a, b];
}

export async function connectXmppJs(opts: {
  port: number;
  directTls?: boolean;
  username: string;
  password: string;
  resource?: string;
}): Promise<TestXmpp> {
  const xmpp = client({
    service: `${opts.directTls ? 'xmpps' : 'xmpp'}://127.0.0.1:${opts.port}`,
    domain: 'localhost',
    username: opts.username,
    password: opts.password,
    ...(opts.resource ? { resource: opts.resource } : {}),
    // xmpp.js waits 2 s per step by default; CI runs two server processes on two cores at once.
    timeout: 15_000,
  });
  xmpp.reconnect.stop();
  xmpp.on('error', () => {});
  const received: Element[] = [];
  const waiters: { pred: (el: Element) => boolean; resolve: (el: Element) => void }[] = [];
  xmpp.on('stanza', (el: Element) => {
    received.push(el);
    for (const w of [...waiters]) {
      if (w.pred(el)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(el);
      }
    }
  });
  await startXmppJs(xmpp);
  const jid = String(xmpp.jid);
  return {
    xmpp,
    jid,
    received,
    waitFor(pred, timeoutMs = 10_000, what = 'stanza') {
      const seen = received.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${jid}: timed out waiting for ${what}; got ${received.map(String).join('\n')}`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (el) => {
            clearTimeout(timer);
            resolve(el);
          },
        });
      });
    },
    async expectNone(pred, ms = 500) {
      await new Promise((r) => setTimeout(r, ms));
      return !received.some(pred);
    },
    async stop() {
      try {
        await xmpp.stop();
      } catch {
        // already closed
      }
    },
  };
}
