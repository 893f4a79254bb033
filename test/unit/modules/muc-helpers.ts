// Helpers for the muc tests: a cluster of 2 shards with real group stores, and clients whose received
// stanzas are kept in an inbox that tests take from by predicate (no timing: they poll settle()).
import type { Test } from 'tap';
import messaging from '../../../src/modules/messaging/index.ts';
import muc from '../../../src/modules/muc/index.ts';
import presence from '../../../src/modules/presence/index.ts';
import roster from '../../../src/modules/roster/index.ts';
import type { Config } from '../../../src/config/schema.ts';
import type { Element } from '../../../src/xmpp/xml.ts';
import { createTestCluster, type TestClient, type TestCluster } from '../../helpers/test-shard.ts';

export const DOMAIN = 'localhost';
export const CONF = `conference.${DOMAIN}`;
export const NS_USER = 'http://jabber.org/protocol/muc#user';
export const NS_MUC = 'http://jabber.org/protocol/muc';

export class Peer {
  readonly client: TestClient;
  readonly c: TestCluster;
  readonly inbox: Element[] = [];
  readonly bare: string;
  constructor(c: TestCluster, client: TestClient) {
    this.c = c;
    this.client = client;
    this.bare = client.full.slice(0, client.full.indexOf('/'));
  }
  get full(): string {
    return this.client.full;
  }
  send(xmlText: string): void {
    this.client.send(xmlText);
  }
  /**
   * Waits until `pred` holds for some received element; removes and returns it. Time-bounded rather than
   * bounded in event-loop turns: opening a libSQL file goes through libuv's threadpool, which a loaded
   * machine (tap runs two files at once) can make slower than any fixed number of turns.
   */
  async next(pred: (el: Element) => boolean, what = 'a matching stanza', timeoutMs = 15_000): Promise<Element> {
    const [found] = await this.#wait(pred, what, timeoutMs, (at) => this.inbox.splice(at, 1));
    return found as Element;
  }
  /** Everything received up to and including the first element matching `pred`, in order; later ones stay in the inbox. */
  async until(pred: (el: Element) => boolean, what = 'a matching stanza', timeoutMs = 15_000): Promise<Element[]> {
    return this.#wait(pred, what, timeoutMs, (at) => this.inbox.splice(0, at + 1));
  }
  async #wait(pred: (el: Element) => boolean, what: string, timeoutMs: number, take: (at: number) => Element[]): Promise<Element[]> {
    const deadline = Date.now() + timeoutMs;
    for (let round = 0; ; round++) {
      this.inbox.push(...this.client.conn.take());
      const at = this.inbox.findIndex(pred);
      if (at !== -1) return take(at);
      if (Date.now() > deadline) throw new Error(`${this.full}: no ${what}; inbox: ${this.inbox.map(String).join('\n')}`);
      await this.c.settle();
      // After the quick rounds, give the threadpool (file opens) real time too.
      if (round > 50) await new Promise((r) => setTimeout(r, 2));
    }
  }
  async iq(xmlText: string, id: string): Promise<Element> {
    this.send(xmlText);
    return this.next((el) => el.name === 'iq' && el.attrs.id === id, `iq ${id}`);
  }
  /** Settles and returns everything received so far. */
  async drain(): Promise<Element[]> {
    await this.c.settle();
    await this.c.settle();
    this.inbox.push(...this.client.conn.take());
    return this.inbox.splice(0);
  }
}

export async function mucCluster(t: Test, opts: { dataDir?: string; config?: Partial<Config> } = {}): Promise<TestCluster> {
  const c = await createTestCluster({
    modules: [roster, presence, messaging, muc],
    shards: 2,
    dataDir: opts.dataDir ?? t.testdir(),
    ...(opts.config ? { config: opts.config } : {}),
  });
  t.teardown(() => c.stop());
  return c;
}

/** A user name `${prefix}N@localhost` homed on `shard`. */
export function userOn(c: TestCluster, prefix: string, shard: number): string {
  for (let i = 0; ; i++) {
    const bare = `${prefix}${i}@${DOMAIN}`;
    if (c.placement.shardOf(bare) === shard) return bare;
  }
}

/** A conference room `${prefix}N@conference.localhost` owned by `shard`. */
export function roomOn(c: TestCluster, prefix: string, shard: number): string {
  for (let i = 0; ; i++) {
    const jid = `${prefix}${i}@${CONF}`;
    if (c.placement.shardOf(jid) === shard) return jid;
  }
}

export async function online(c: TestCluster, bare: string, resource = 'r'): Promise<Peer> {
  await c.createAccounts(bare);
  const client = await c.login(bare, resource);
  const p = new Peer(c, client);
  p.send('<presence/>');
  await p.drain();
  return p;
}

/** `v` itself, typed as present; throws (failing the test) naming `what` when it is missing. Use instead of `!`. */
export function defined<T>(v: T | null | undefined, what: string): T {
  if (v == null) throw new Error(`missing ${what}`);
  return v;
}

/** The last of `els` (e.g. what ended a join: the subject or the error presence); throws when there is none. */
export function last(els: readonly Element[]): Element {
  return defined(els.at(-1), 'last stanza');
}

/** The first of `els` sent from `jid` (e.g. an occupant's presence in what a join returned); throws when there is none. */
export function stanzaFrom(els: readonly Element[], jid: string): Element {
  return defined(
    els.find((el) => el.attrs.from === jid),
    `stanza from ${jid}`,
  );
}

export function codes(p: Element): number[] {
  return (
    p
      .getChild('x', NS_USER)
      ?.getChildren('status')
      .map((s) => Number(s.attrs.code)) ?? []
  );
}

export function item(p: Element): Element | undefined {
  return p.getChild('x', NS_USER)?.getChild('item');
}

export const isSubject = (el: Element): boolean =>
  el.name === 'message' && el.getChild('subject') !== undefined && el.getChild('body') === undefined;
export const isErrorPresence = (el: Element): boolean => el.name === 'presence' && el.attrs.type === 'error';

/** Joins and returns everything received up to and including the subject (or the error presence). */
export async function join(p: Peer, occupantJid: string, x = `<x xmlns='${NS_MUC}'/>`): Promise<Element[]> {
  p.send(`<presence to='${occupantJid}'>${x}</presence>`);
  return p.until((el) => isSubject(el) || isErrorPresence(el), `join of ${occupantJid}`);
}

export function errorCondition(el: Element): string | undefined {
  return el
    .getChild('error')
    ?.getChildElements()
    .find((e) => e.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas' && e.name !== 'text')?.name;
}

/** Creates an instant room (§10.1.2) owned by `owner` with nick `nick`, and applies `fields` (var → value). */
export async function instantRoom(owner: Peer, room: string, nick: string, fields: Record<string, string> = {}): Promise<Element[]> {
  const joined = await join(owner, `${room}/${nick}`);
  const form = Object.entries(fields)
    .map(([v, value]) => `<field var='${v}'><value>${value}</value></field>`)
    .join('');
  const r = await owner.iq(
    `<iq type='set' id='cfg' to='${room}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>${form}</x></query></iq>`,
    'cfg',
  );
  if (r.attrs.type !== 'result') throw new Error(`configuration failed: ${r.toString()}`);
  return joined;
}
