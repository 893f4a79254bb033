// Zanzibar-style permissions for Waddles (Pang et al., "Zanzibar: Google's Consistent, Global Authorization
// System", USENIX ATC 2019, §2.3; OpenFGA's model language uses the same operators). Stored tuples say who
// holds a relation directly (`waddle:w#admin@user:alice@example.org`, or a userset subject such as
// `channel:w/c#viewer@waddle:w#member`); the namespace configuration below derives the rest:
//
//   waddle   owner  = this
//            banned = this                      but not owner      (an owner cannot be banned)
//            admin  = this | owner              but not banned
//            member = this | admin              but not banned
//   channel  owner  = (this but not waddle.banned) | waddle.owner
//            banned = this | waddle.banned      but not owner
//            admin  = this | owner | waddle.admin  but not banned
//            member = this | admin              but not banned
//            viewer = this | member             but not banned
//
// Banned wins everywhere except over an owner of the object itself (a Waddle ban ends channel ownership too).
// "waddle.x" is Zanzibar's tuple_to_userset, with the parent taken from the object id (channel:w/c →
// waddle:w) instead of a stored parent tuple. An unrestricted channel stores `channel:w/c#viewer@waddle:w#member`, so
// every Waddle member may view it; a restricted one does not.
//
// Checks run in process against the Waddle's own file. Usersets naming another Waddle are ignored: its file
// may belong to another shard, and a check never leaves this one. Hand-written rather than a library: OpenFGA
// and SpiceDB are servers whose npm packages are network clients, and the model here is a dozen rules.
import { Counter, type Registry } from 'prom-client';
import type { Tuple } from '../storage/ports-waddles.ts';
import type { Logger } from '../telemetry/log.ts';
import { type WaddleCacheEntry, WaddleCaches } from './cache.ts';
import { type ParsedObject, parseObject, parseUserset, userSubject, waddleObject } from './model.ts';

export type Rewrite =
  /** Stored tuples of this object#relation (users, and usersets expanded recursively). */
  | { readonly this: true }
  /** Another relation of the same object. */
  | { readonly computed: string }
  /** A relation of the object's parent (a channel's Waddle). */
  | { readonly parent: string }
  | { readonly union: readonly Rewrite[] }
  /** Zanzibar's exclusion: in `base` and not in `minus`. */
  | { readonly base: Rewrite; readonly minus: Rewrite };

const THIS: Rewrite = { this: true };

export const NAMESPACES: Readonly<Record<ParsedObject['type'], Readonly<Record<string, Rewrite>>>> = {
  waddle: {
    owner: THIS,
    banned: { base: THIS, minus: { computed: 'owner' } },
    admin: { base: { union: [THIS, { computed: 'owner' }] }, minus: { computed: 'banned' } },
    member: { base: { union: [THIS, { computed: 'admin' }] }, minus: { computed: 'banned' } },
  },
  channel: {
    // Banned from the Waddle is banned from all of it, channel ownership included (Waddle owners never are).
    owner: { union: [{ base: THIS, minus: { parent: 'banned' } }, { parent: 'owner' }] },
    banned: { base: { union: [THIS, { parent: 'banned' }] }, minus: { computed: 'owner' } },
    admin: { base: { union: [THIS, { computed: 'owner' }, { parent: 'admin' }] }, minus: { computed: 'banned' } },
    member: { base: { union: [THIS, { computed: 'admin' }] }, minus: { computed: 'banned' } },
    viewer: { base: { union: [THIS, { computed: 'member' }] }, minus: { computed: 'banned' } },
  },
};

/** Relations a stored tuple may name, per object type (the keys of its namespace). */
export function isStoredRelation(type: ParsedObject['type'], relation: string): boolean {
  return Object.hasOwn(NAMESPACES[type], relation);
}

/** What a check reads: the two lookups of WaddleStore it needs. */
export interface TupleSource {
  hasTuple(waddle: string, tuple: Tuple): Promise<boolean>;
  usersetsOf(waddle: string, object: string, relation: string): Promise<string[]>;
}

export interface PermissionCheckerOptions {
  source: TupleSource;
  /** Shared with the service, which invalidates a Waddle's entry after each write. */
  caches?: WaddleCaches;
  /** prom-client registry of the shard; metrics are skipped without one. */
  registry?: Registry;
  log?: Logger;
}

/** Userset nesting deeper than this is treated as "no" (and logged): real models nest two or three levels. */
const MAX_DEPTH = 24;

const CHECKS_METRIC = 'xmpp_waddles_permission_checks_total';

/** One evaluation: the object#relation pairs on the current path (cycle protection) and its cache entry. */
interface Walk {
  readonly waddle: string;
  readonly user: string;
  readonly entry: WaddleCacheEntry;
  readonly path: Set<string>;
}

export class PermissionChecker {
  readonly caches: WaddleCaches;
  readonly #source: TupleSource;
  readonly #log: Logger | undefined;
  readonly #checks: Counter<'result' | 'cache'> | undefined;

  constructor(o: PermissionCheckerOptions) {
    this.#source = o.source;
    this.caches = o.caches ?? new WaddleCaches();
    this.#log = o.log;
    if (o.registry !== undefined) {
      // Several services may share a shard's registry (tests, restarts of a module): reuse the metric.
      const existing = o.registry.getSingleMetric(CHECKS_METRIC) as Counter<'result' | 'cache'> | undefined;
      this.#checks =
        existing ??
        new Counter({
          name: CHECKS_METRIC,
          help: 'Waddle permission checks by result and whether the per-Waddle cache answered',
          labelNames: ['result', 'cache'],
          registers: [o.registry],
        });
    }
  }

  /**
   * Does `userBare` hold `relation` on `object` (`waddle:<id>` or `channel:<id>/<name>`)? Raw tuple logic:
   * it does not look at whether the object exists (the service does). False for unknown objects or relations.
   */
  async check(object: string, relation: string, userBare: string): Promise<boolean> {
    const parsed = parseObject(object);
    if (parsed === undefined) return false;
    const entry = this.caches.entry(parsed.waddle);
    const key = `${object}#${relation}@${userBare}`;
    const cached = entry.results.get(key);
    if (cached !== undefined) {
      this.#checks?.inc({ result: cached ? 'allowed' : 'denied', cache: 'hit' });
      return cached;
    }
    const walk: Walk = { waddle: parsed.waddle, user: userSubject(userBare), entry, path: new Set() };
    const result = await this.#relation(walk, object, parsed, relation);
    // Deterministic for a given start (the cycle cut depends only on the path from here), so cacheable.
    entry.remember(entry.results, key, result);
    this.#checks?.inc({ result: result ? 'allowed' : 'denied', cache: 'miss' });
    return result;
  }

  /** Drops everything cached for a Waddle: call after every write to its tuples. */
  invalidate(waddle: string): void {
    this.caches.invalidate(waddle);
  }

  async #relation(walk: Walk, object: string, parsed: ParsedObject, relation: string): Promise<boolean> {
    const rewrite = NAMESPACES[parsed.type][relation];
    if (rewrite === undefined) return false;
    const node = `${object}#${relation}`;
    if (walk.path.has(node)) return false; // a cycle through usersets: this branch adds no one
    if (walk.path.size >= MAX_DEPTH) {
      this.#log?.warn({ object, relation, depth: walk.path.size }, 'waddle permission check too deep; denied');
      return false;
    }
    walk.path.add(node);
    try {
      return await this.#eval(walk, object, parsed, relation, rewrite);
    } finally {
      walk.path.delete(node);
    }
  }

  async #eval(walk: Walk, object: string, parsed: ParsedObject, relation: string, r: Rewrite): Promise<boolean> {
    if ('this' in r) return this.#direct(walk, object, relation);
    if ('computed' in r) return this.#relation(walk, object, parsed, r.computed);
    if ('parent' in r) {
      if (parsed.type !== 'channel') return false;
      const parent = waddleObject(parsed.waddle);
      return this.#relation(walk, parent, { type: 'waddle', waddle: parsed.waddle }, r.parent);
    }
    if ('union' in r) {
      for (const child of r.union) if (await this.#eval(walk, object, parsed, relation, child)) return true;
      return false;
    }
    return (await this.#eval(walk, object, parsed, relation, r.base)) && !(await this.#eval(walk, object, parsed, relation, r.minus));
  }

  /** The stored tuple for the user, else any stored userset that contains the user. */
  async #direct(walk: Walk, object: string, relation: string): Promise<boolean> {
    const { entry } = walk;
    const key = `${object}#${relation}@${walk.user}`;
    let has = entry.direct.get(key);
    if (has === undefined) {
      has = await this.#source.hasTuple(walk.waddle, { object, relation, subject: walk.user });
      entry.remember(entry.direct, key, has);
    }
    if (has) return true;
    const setsKey = `${object}#${relation}`;
    let sets = entry.usersets.get(setsKey);
    if (sets === undefined) {
      sets = await this.#source.usersetsOf(walk.waddle, object, relation);
      entry.remember(entry.usersets, setsKey, sets);
    }
    for (const s of sets) {
      const userset = parseUserset(s);
      const target = userset && parseObject(userset.object);
      if (userset === undefined || target === undefined || target.waddle !== walk.waddle) continue;
      if (await this.#relation(walk, userset.object, target, userset.relation)) return true;
    }
    return false;
  }
}
