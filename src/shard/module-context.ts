// Builds the ModuleContext a module's setup() receives: every registration goes to this shard's
// Registry, every send goes through this shard's Router.
import type { Config } from '../config/schema.ts';
import type { Registry } from '../router/registry.ts';
import type { IqScope, ModuleContext, XmppModule } from '../router/module.ts';
import type { Router } from '../router/router.ts';
import type { GroupStores, UserStores } from '../storage/ports.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ShardMetrics } from '../telemetry/metrics.ts';
import type { HomeSessions } from './home.ts';
import type { SessionTable } from './session-table.ts';

export interface ContextDeps {
  shard: number;
  config: Config;
  log: Logger;
  metrics: ShardMetrics;
  stores: UserStores;
  groupStores: GroupStores;
  sessions: SessionTable;
  registry: Registry;
  router: Router;
  home: HomeSessions;
  call(key: string, method: string, params: unknown): Promise<unknown>;
  ownerOf(key: string): number;
  every(ms: number, fn: () => void | Promise<void>): void;
}

const BOTH: readonly IqScope[] = ['server', 'account'];

export function setupModules(modules: readonly XmppModule[], d: ContextDeps): void {
  for (const m of modules) {
    for (const claim of m.implements ?? []) d.registry.claims.push({ module: m.name, claim });
    m.setup(createContext(m, d));
  }
}

function createContext(m: XmppModule, d: ContextDeps): ModuleContext {
  const { registry, router } = d;
  return {
    domain: d.config.domain,
    shard: d.shard,
    config: d.config,
    log: d.log.child({ module: m.name }),
    metrics: d.metrics,
    stores: d.stores,
    groupStores: d.groupStores,
    sessions: d.sessions,
    disco: {
      feature: (ns, scope) => {
        for (const s of scope ? [scope] : BOTH) registry.addFeature(ns, s);
      },
      identity: (identity, scope) => registry.addIdentity(identity, scope ?? 'server'),
      item: (item) => registry.addDiscoItem(item),
    },
    discoItems: () => registry.discoItems(),
    service: (def) => registry.addService(def),
    ownerOf: d.ownerOf,
    fanout: (stanza, recipients) => router.fanout(stanza, recipients),
    every: d.every,
    discoInfo: (scope) => ({ features: registry.discoFeatures(scope), identities: registry.discoIdentities(scope) }),
    iq: {
      get: (ns, name, fn, scopes = BOTH) => registry.addIq('get', ns, name, scopes, fn),
      set: (ns, name, fn, scopes = BOTH) => registry.addIq('set', ns, name, scopes, fn),
    },
    hooks: {
      on: (name, fn, priority) => void registry.hooks.on(name, fn, priority),
      fire: (name, event) => registry.hooks.fire(name, event),
    },
    streamFeature: (build) => registry.addStreamFeature(build),
    bind2Feature: (ns) => registry.addBind2Feature(ns),
    rpc: (method, fn) => registry.addRpc(method, fn),
    route: (stanza) => router.route(stanza),
    sendToSession: (session, stanza) => router.sendToSession(session, stanza),
    writeToSession: (session, stanza) => router.writeToSession(session, stanza),
    writeRaw: (session, xml) => router.writeRaw(session, xml),
    streamFeatures: () => registry.streamFeatures(),
    closeSession: (session, condition, text) => router.closeSession(session, condition, text),
    unbindSession: (session, reason) => d.home.unbind(session, reason),
    reattachSession: (session, edge, connId) => d.home.reattach(session, edge, connId),
    call: d.call,
  };
}
