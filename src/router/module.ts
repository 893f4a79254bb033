// The one extension point (STYLE §4.1, sketch 2). A module registers only through its ModuleContext;
// the registry records every registration, so features are declared beside their handlers and
// "advertised equals implemented" holds by construction.
import type { Config } from '../config/schema.ts';
import type { SessionRecord, SessionTable } from '../shard/session-table.ts';
import type { GroupStores, UserStores } from '../storage/ports.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ShardMetrics } from '../telemetry/metrics.ts';
import type { Jid } from '../xmpp/jid.ts';
import type { Element } from '../xmpp/xml.ts';
import type { HookHandler, HookMap, HookName, HookResult } from './hooks.ts';

export { Priority } from './hooks.ts';
// What modules may name from the rest of the server: they import from here, not from shard/ or storage/.
export type { SessionRecord } from '../shard/session-table.ts';
export type {
  ArchivedStanza,
  ArchiveQuery,
  ArchivePage,
  ArchiveStore,
  BlockStore,
  FastToken,
  GroupStores,
  MamPrefs,
  MamPrefsStore,
  RosterItem,
  Subscription,
} from '../storage/ports.ts';

export interface XepClaim {
  readonly xep?: number;
  readonly rfc?: number;
  readonly name: string;
  readonly version?: string;
  readonly status: 'complete' | 'partial';
  readonly note?: string;
}

/** Who an iq is addressed to: the server's domain, or a user account (bare JID, or no `to`). */
export type IqScope = 'server' | 'account';

export interface IqRequest {
  readonly stanza: Element;
  readonly type: 'get' | 'set';
  readonly payload: Element;
  /** The sender, always a full or bare JID stamped by the server. */
  readonly from: Jid;
  /** The addressee: the server domain, or the account's bare JID. */
  readonly to: Jid;
  readonly scope: IqScope;
  /** Set when the sender is a session of the addressed account on this shard. */
  readonly session: SessionRecord | undefined;
}

/** Return a payload for the result, undefined for an empty result, or throw StanzaError. */
export type IqHandler = (req: IqRequest) => Element | undefined | Promise<Element | undefined>;

export type RpcHandler = (params: unknown, fromShard: number) => unknown;

export interface Identity {
  category: string;
  type: string;
  name?: string;
}

/**
 * A service hosted on its own domain(s) (XEP-0045 conference.<domain>, <waddle>.groups.<domain>), like a
 * Prosody component. The router sends every stanza for an address of the service to the shard owning
 * `placementKey(to)` and hands it to `deliver` there; core routing knows nothing else about it.
 */
export interface ServiceDefinition {
  /** True if the service answers for this domain. */
  hosts(domain: string): boolean;
  /** Addresses with the same key live on the same shard (a Waddle's channels share one key). */
  placementKey(to: Jid): string;
  /**
   * A stanza for one of the service's addresses, on the shard owning it. `from` is stamped by the server.
   * Throwing StanzaError bounces the stanza with that error (never for errors or results).
   */
  deliver(stanza: Element, to: Jid): void | Promise<void>;
}

export interface DiscoItem {
  jid: string;
  name?: string;
  node?: string;
}

export interface ModuleContext {
  readonly domain: string;
  readonly shard: number;
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: ShardMetrics;
  readonly stores: UserStores;
  /** Group chat state (rooms, room archives, Waddles) of the realms this shard owns. */
  readonly groupStores: GroupStores;
  readonly sessions: SessionTable;
  readonly disco: {
    feature(ns: string, scope?: IqScope): void;
    identity(identity: Identity, scope?: IqScope): void;
    /** An item of the server's disco#items (a hosted service such as conference.<domain>). */
    item(item: DiscoItem): void;
  };
  /** XEP-0030 items of the server domain (everything modules declared with disco.item). */
  discoItems(): readonly DiscoItem[];
  /** Hosts a service domain (see ServiceDefinition). */
  service(def: ServiceDefinition): void;
  /** The shard owning a placement key (a bare JID, a service placement key). */
  ownerOf(key: string): number;
  /**
   * Sends one copy of `stanza` to each recipient (full or bare JIDs of local users), setting `to` per copy:
   * one ring frame per destination shard, not one per recipient (XEP-0045 fan-out). Each copy is delivered
   * at the recipient's home shard as any inbound stanza (hooks, §8.5 rules, CSI, SM counting).
   */
  fanout(stanza: Element, recipients: readonly string[]): void;
  /** Runs `fn` every `ms` until the shard stops (retention sweeps and other background work). */
  every(ms: number, fn: () => void | Promise<void>): void;
  /** What this component advertises (everything every module declared), for the disco module. */
  discoInfo(scope: IqScope): { features: string[]; identities: readonly Identity[] };
  readonly iq: {
    get(ns: string, name: string, fn: IqHandler, scopes?: readonly IqScope[]): void;
    set(ns: string, name: string, fn: IqHandler, scopes?: readonly IqScope[]): void;
  };
  readonly hooks: {
    on<K extends HookName>(name: K, fn: HookHandler<K>, priority?: number): void;
    /** Runs a hook's chain (a module that owns an event, e.g. presence firing 'session:available'). */
    fire<K extends HookName>(name: K, event: HookMap[K]): HookResult | Promise<HookResult>;
  };
  /** Stream features offered after authentication (e.g. `<csi/>`, `<ver/>`), built on each edge. */
  streamFeature(element: () => Element): void;
  /** XEP-0386: advertises `ns` as enable-able inline in Bind2; the module handles 'session:bind2-inline'. */
  bind2Feature(ns: string): void;
  /** A named request other shards (or the connection's edge) can make of the shard owning a JID. */
  rpc(method: string, fn: RpcHandler): void;
  /** Sends a stanza to whoever owns its `to` (this shard, another shard over the mesh, or an error). */
  route(stanza: Element): void;
  /** Writes a stanza to one session (through the session:deliver hook, e.g. CSI buffering). */
  sendToSession(session: SessionRecord, stanza: Element): void;
  /** Writes serialised XML without hooks or counting (SASL2 success, stream features). */
  writeRaw(session: SessionRecord, xml: string): void;
  /** Post-authentication stream features of this server (for SASL2, which has no stream restart). */
  streamFeatures(): Element[];
  /** Writes without hooks (used by CSI itself when flushing). */
  writeToSession(session: SessionRecord, stanza: Element): void;
  /** Closes a session's connection with a stream error condition ('' for a clean close). */
  closeSession(session: SessionRecord, condition: string, text?: string): void;
  /** Ends a session on this (home) shard: hooks run as for a closed connection. */
  unbindSession(session: SessionRecord, reason: string): Promise<void>;
  /** Moves a session to another connection (XEP-0198 resumption). */
  reattachSession(session: SessionRecord, edge: number, connId: number): void;
  /** Calls an rpc method on the shard that owns `key` (a bare JID). */
  call(key: string, method: string, params: unknown): Promise<unknown>;
}

export interface XmppModule {
  readonly name: string;
  readonly implements?: readonly XepClaim[];
  readonly dependsOn?: readonly string[];
  setup(ctx: ModuleContext): void;
}

export function defineModule(m: XmppModule): XmppModule {
  return m;
}
