// The closed, typed set of hooks (STYLE §4.1). A hook name that is not in HookMap does not compile.
// `pre`-style hooks may veto by throwing StanzaError or returning 'handled'; the chain stops at the
// first 'handled'. Priorities are named, higher runs first.
import type { Jid } from '../xmpp/jid.ts';
import type { Element } from '../xmpp/xml.ts';
import type { SessionRecord } from '../shard/session-table.ts';

export const Priority = { Guard: 100, Policy: 50, Default: 0, Fallback: -50 } as const;

export interface HookMap {
  /** A resource was bound on this (home) shard. */
  'session:bound': { session: SessionRecord };
  /** A session ended (connection closed, replaced or timed out). Its presence is still set. */
  'session:unbound': { session: SessionRecord; reason: string };
  /** RFC 6121 §4.2: the session sent initial presence (offline messages are delivered now). */
  'session:available': { session: SessionRecord };
  /** The session sent unavailable presence or ended while available. */
  'session:unavailable': { session: SessionRecord };
  /** A stanza from a local session, before routing (blocking, presence broadcast, roster). */
  'stanza:outbound': { session: SessionRecord; stanza: Element; to: Jid | undefined };
  /** A message for a local user (bare or full JID) arrived at its home shard. */
  'message:inbound': { stanza: Element; to: Jid };
  /** A presence for a local user arrived at its home shard. */
  'presence:inbound': { stanza: Element; to: Jid };
  /** An iq for a local user's full JID, before delivery to that resource. */
  'iq:inbound-full': { stanza: Element; to: Jid };
  /** A top-level element other than message/presence/iq from a bound session (e.g. XEP-0352 <active/>). */
  'session:nonza': { session: SessionRecord; element: Element };
  /** Every element a bound session sent, as its turn comes to be handled (XEP-0198 counts them). */
  'session:received': { session: SessionRecord; element: Element };
  /** The session's connection closed (cleanly or not); 'handled' keeps the session for resumption. */
  'session:connection-lost': { session: SessionRecord; clean: boolean };
  /** An element is being written to the session's connection (XEP-0198 counts and keeps it); 'handled' holds it back. */
  'session:write': { session: SessionRecord; stanza: Element };
  /** XEP-0386: an inline element of a Bind2 request; a module that handles it may add result elements for <bound/>. */
  'session:bind2-inline': { session: SessionRecord; element: Element; results: Element[]; enabled: Set<string> };
  /** A stanza is about to be written to a session (CSI may hold it back). */
  'session:deliver': { session: SessionRecord; stanza: Element };
  /** The server is about to send a local user's presence (broadcast, probe, unavailable) to a contact. */
  'presence:broadcast': { owner: string; stanza: Element; to: Jid };
  /** An iq from another entity for a local user's bare JID, before the account's iq handlers (XEP-0191 blocking). */
  'iq:inbound-bare': { stanza: Element; to: Jid };
  /**
   * RFC 6121 §8.5: a message for a local user (bare or full JID) was handed to `delivered`, the sessions
   * that got the original, on the user's home shard (XEP-0280 carbons copy it to the others).
   */
  'message:delivered': { stanza: Element; to: Jid; delivered: readonly SessionRecord[] };
}

export type HookName = keyof HookMap;
export type HookResult = void | 'handled';
export type HookHandler<K extends HookName> = (event: HookMap[K]) => HookResult | Promise<HookResult>;

interface Entry<K extends HookName> {
  fn: HookHandler<K>;
  priority: number;
}

export class HookBus {
  private readonly chains = new Map<HookName, Entry<HookName>[]>();

  on<K extends HookName>(name: K, fn: HookHandler<K>, priority: number = Priority.Default): () => void {
    const chain = this.chains.get(name) ?? [];
    const entry = { fn, priority } as unknown as Entry<HookName>;
    chain.push(entry);
    chain.sort((x, y) => y.priority - x.priority);
    this.chains.set(name, chain);
    return () => {
      const i = chain.indexOf(entry);
      if (i >= 0) chain.splice(i, 1);
    };
  }

  has(name: HookName): boolean {
    return (this.chains.get(name)?.length ?? 0) > 0;
  }

  /**
   * Runs the chain in priority order until a handler returns 'handled'. Handlers that return
   * synchronously stay synchronous (no Promise per stanza on the hot path unless one is async).
   */
  fire<K extends HookName>(name: K, event: HookMap[K]): HookResult | Promise<HookResult> {
    const chain = this.chains.get(name) as Entry<K>[] | undefined;
    if (!chain) return undefined;
    return runFrom(chain, 0, event);
  }
}

function runFrom<K extends HookName>(chain: Entry<K>[], start: number, event: HookMap[K]): HookResult | Promise<HookResult> {
  for (let i = start; i < chain.length; i++) {
    const entry = chain[i] as Entry<K>;
    let result: HookResult | Promise<HookResult>;
    try {
      result = entry.fn(event);
    } catch (err) {
      // A synchronous throw (e.g. a StanzaError veto) becomes a rejection, so every caller handles
      // errors in one place and nothing escapes into the ring-draining loop.
      return Promise.reject(err);
    }
    if (result instanceof Promise) {
      return result.then((r) => (r === 'handled' ? 'handled' : runFrom(chain, i + 1, event)));
    }
    if (result === 'handled') return 'handled';
  }
  return undefined;
}
