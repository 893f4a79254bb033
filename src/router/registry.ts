// Collects what modules register: iq routes keyed by (type, scope, ns, name), disco features and
// identities per scope, post-auth stream features and rpc methods. One registry per shard, built at
// shard start; nothing here is module-level state.
import type { Element } from '../xmpp/xml.ts';
import { HookBus } from './hooks.ts';
import type { DiscoItem, Identity, IqHandler, IqScope, RpcHandler, ServiceDefinition, XepClaim, XmppModule } from './module.ts';

export class ModuleDependencyError extends Error {
  readonly code = 'ERR_MODULE_DEPENDENCY';
}

export class Registry {
  readonly hooks = new HookBus();
  private readonly iqRoutes = new Map<string, IqHandler>();
  private readonly features: Record<IqScope, Set<string>> = { server: new Set(), account: new Set() };
  private readonly identities: Record<IqScope, Identity[]> = { server: [], account: [] };
  private readonly postAuthFeatures: (() => Element)[] = [];
  private readonly rpcMethods = new Map<string, RpcHandler>();
  private readonly bind2Inline = new Set<string>();
  private readonly services: ServiceDefinition[] = [];
  private readonly items: DiscoItem[] = [];
  readonly claims: { module: string; claim: XepClaim }[] = [];

  static checkDependencies(modules: readonly XmppModule[]): void {
    const names = new Set(modules.map((m) => m.name));
    for (const m of modules) {
      for (const dep of m.dependsOn ?? []) {
        if (!names.has(dep)) throw new ModuleDependencyError(`module ${m.name} depends on ${dep}, which is not loaded`);
      }
    }
  }

  addIq(type: 'get' | 'set', ns: string, name: string, scopes: readonly IqScope[], fn: IqHandler): void {
    for (const scope of scopes) {
      const key = iqKey(type, scope, ns, name);
      if (this.iqRoutes.has(key)) throw new Error(`duplicate iq handler for ${key}`);
      this.iqRoutes.set(key, fn);
    }
  }

  iqHandler(type: 'get' | 'set', scope: IqScope, ns: string, name: string): IqHandler | undefined {
    return this.iqRoutes.get(iqKey(type, scope, ns, name));
  }

  addFeature(ns: string, scope: IqScope): void {
    this.features[scope].add(ns);
  }

  addIdentity(identity: Identity, scope: IqScope): void {
    this.identities[scope].push(identity);
  }

  discoFeatures(scope: IqScope): string[] {
    return [...this.features[scope]].sort();
  }

  discoIdentities(scope: IqScope): readonly Identity[] {
    return this.identities[scope];
  }

  addStreamFeature(build: () => Element): void {
    this.postAuthFeatures.push(build);
  }

  streamFeatures(): Element[] {
    return this.postAuthFeatures.map((build) => build());
  }

  /** XEP-0386: a feature a client may enable inline in a Bind2 request. */
  addBind2Feature(ns: string): void {
    this.bind2Inline.add(ns);
  }

  bind2Features(): string[] {
    return [...this.bind2Inline];
  }

  addService(def: ServiceDefinition): void {
    this.services.push(def);
  }

  /** The hosted service answering for `domain`, if any (a handful of services: a scan is cheapest). */
  serviceFor(domain: string): ServiceDefinition | undefined {
    for (const s of this.services) if (s.hosts(domain)) return s;
    return undefined;
  }

  addDiscoItem(item: DiscoItem): void {
    this.items.push(item);
  }

  discoItems(): readonly DiscoItem[] {
    return this.items;
  }

  addRpc(method: string, fn: RpcHandler): void {
    if (this.rpcMethods.has(method)) throw new Error(`duplicate rpc method ${method}`);
    this.rpcMethods.set(method, fn);
  }

  rpc(method: string): RpcHandler | undefined {
    return this.rpcMethods.get(method);
  }
}

function iqKey(type: string, scope: IqScope, ns: string, name: string): string {
  return `${type} ${scope} {${ns}}${name}`;
}
