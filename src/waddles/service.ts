// Waddles (communities), their channels (XEP-0045 rooms <channel>@<waddle>.groups.<domain>) and who may do
// what in them: a transport-independent service used by the MUC module, the CLI and later a REST API.
// Permissions are relationship tuples (permissions.ts); this service is their only writer while the server
// runs, so it serialises the changes of each Waddle and drops the Waddle's permission cache after each one.
import type { Registry } from 'prom-client';
import { isWaddleId, waddleDomain } from '../shard/realm.ts';
import type { ChannelRecord, Tuple, TupleChanges, WaddleRecord, WaddleStore } from '../storage/ports-waddles.ts';
import type { Logger } from '../telemetry/log.ts';
import type { WaddleMeta } from './cache.ts';
import { KeyedQueue } from './keyed-queue.ts';
import {
  AFFILIATION_RELATIONS,
  AFFILIATIONS,
  type Actor,
  type Affiliation,
  type AffiliationEntry,
  bareUser,
  Conflict,
  channelObject,
  checkAffiliation,
  checkChannelName,
  checkWaddleId,
  displayText,
  generateId,
  InvalidArgument,
  type NewChannel,
  NotFound,
  OPERATOR,
  PermissionDenied,
  RELATION_OF,
  type Relation,
  tryBare,
  userSubject,
  viewerTuple,
  type WaddleChange,
  waddleObject,
} from './model.ts';
import { PermissionChecker } from './permissions.ts';
import { authorizeAffiliationChange, authorizeChannelChange, directAffiliations } from './rules.ts';

export interface WaddleServiceOptions {
  store: WaddleStore;
  domain: string;
  now?: () => number;
  log?: Logger;
  /** The shard's prom-client registry, for permission check counters. */
  registry?: Registry;
}

export type { AffiliationEntry, NewChannel, WaddleChange, WaddleChangeKind } from './model.ts';

const MAX_RETENTION_DAYS = 36_500;

export class WaddleService {
  readonly domain: string;
  readonly checker: PermissionChecker;
  readonly #store: WaddleStore;
  readonly #now: () => number;
  readonly #log: Logger | undefined;
  readonly #listeners = new Set<(change: WaddleChange) => void>();
  /** One change at a time per Waddle. */
  readonly #queue = new KeyedQueue();

  constructor(o: WaddleServiceOptions) {
    this.#store = o.store;
    this.domain = o.domain;
    this.#now = o.now ?? Date.now;
    this.#log = o.log;
    const checker: ConstructorParameters<typeof PermissionChecker>[0] = { source: o.store };
    if (o.registry !== undefined) checker.registry = o.registry;
    if (o.log !== undefined) checker.log = o.log;
    this.checker = new PermissionChecker(checker);
  }

  /** The Waddle's own address, `<id>.groups.<domain>`. */
  waddleJid(waddle: string): string {
    return waddleDomain(waddle, this.domain);
  }

  /** The channel's room address, `<channel>@<id>.groups.<domain>`. */
  channelJid(waddle: string, channel: string): string {
    return `${channel}@${waddleDomain(waddle, this.domain)}`;
  }

  /** Calls `listener` after each committed change; returns the function that unsubscribes it. */
  onChange(listener: (change: WaddleChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ----- reads

  async getWaddle(id: string): Promise<WaddleRecord | undefined> {
    return isWaddleId(id) ? (await this.#meta(id)).waddle : undefined;
  }

  listWaddles(): Promise<WaddleRecord[]> {
    return this.#store.listWaddles();
  }

  async getChannel(waddle: string, channel: string): Promise<ChannelRecord | undefined> {
    return isWaddleId(waddle) ? (await this.#meta(waddle)).channels.get(channel) : undefined;
  }

  async listChannels(waddle: string): Promise<ChannelRecord[]> {
    return [...(await this.#requireWaddle(waddle)).channels.values()];
  }

  /** The raw tuple check (permissions.ts), e.g. `check('channel:w/c', 'viewer', 'alice@example.org')`. */
  check(object: string, relation: string, userBare: string): Promise<boolean> {
    return this.checker.check(object, relation, userBare);
  }

  /**
   * XEP-0045 affiliation of a user in a channel (or in the Waddle itself when `channel` is undefined).
   * 'none' for unknown Waddles and channels. Waddle members count as members of every channel they can view.
   */
  async affiliationOf(waddle: string, channel: string | undefined, userBare: string): Promise<Affiliation> {
    const user = tryBare(userBare);
    if (user === undefined || !isWaddleId(waddle)) return 'none';
    const meta = await this.#meta(waddle);
    if (meta.waddle === undefined) return 'none';
    const object = channel === undefined ? waddleObject(waddle) : channelObject(waddle, channel);
    if (channel !== undefined && !meta.channels.has(channel)) return 'none';
    const has = (relation: Relation) => this.checker.check(object, relation, user);
    if (await has('owner')) return 'owner';
    if (await has('banned')) return 'outcast';
    if (await has('admin')) return 'admin';
    if (await has('member')) return 'member';
    if (channel !== undefined && (await has('viewer'))) return 'member';
    return 'none';
  }

  /** May the user see (join, read) the channel? False for unknown channels and banned users. */
  async canView(waddle: string, channel: string, userBare: string): Promise<boolean> {
    const user = tryBare(userBare);
    if (user === undefined || (await this.getChannel(waddle, channel)) === undefined) return false;
    return this.checker.check(channelObject(waddle, channel), 'viewer', user);
  }

  /**
   * Users named directly at the Waddle level (no channel), or with an effective affiliation in the channel
   * (named in the channel's tuples, or inherited from the Waddle's). Usersets are not expanded.
   */
  async listAffiliations(waddle: string, channel?: string): Promise<AffiliationEntry[]> {
    const meta = await this.#requireWaddle(waddle);
    const waddleUsers = directAffiliations(await this.#store.tuplesOf(waddle, waddleObject(waddle)));
    const out: AffiliationEntry[] = [];
    if (channel === undefined) {
      for (const [user, affiliation] of waddleUsers) if (affiliation !== 'none') out.push({ user, affiliation, via: 'waddle' });
    } else {
      if (!meta.channels.has(channel)) throw new NotFound(`no channel ${channel} in Waddle ${waddle}`);
      const tuples = await this.#store.tuplesOf(waddle, channelObject(waddle, channel));
      const channelUsers = new Set(tuples.filter((t) => t.subject.startsWith('user:')).map((t) => t.subject.slice(5)));
      for (const user of new Set([...channelUsers, ...waddleUsers.keys()])) {
        const affiliation = await this.affiliationOf(waddle, channel, user);
        if (affiliation !== 'none') out.push({ user, affiliation, via: channelUsers.has(user) ? 'channel' : 'waddle' });
      }
    }
    const rank = (a: Affiliation) => AFFILIATIONS.indexOf(a);
    return out.sort((a, b) => rank(a.affiliation) - rank(b.affiliation) || (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  }

  // ----- changes

  /** Creates a Waddle owned by `owner`; an id is generated from the name when none is given. */
  async createWaddle(input: { id?: string; name: string; owner: string }, actor?: Actor): Promise<WaddleRecord> {
    const name = displayText(input.name, 100, 'a Waddle name');
    const owner = bareUser(input.owner);
    const createdBy = actor === undefined ? owner : actor === OPERATOR ? OPERATOR : bareUser(actor);
    if (input.id !== undefined) checkWaddleId(input.id);
    for (let attempt = 0; ; attempt++) {
      const id = input.id ?? generateId(name);
      const record: WaddleRecord = { id, name, createdAt: this.#now(), createdBy, retentionDays: null };
      const tuple: Tuple = { object: waddleObject(id), relation: 'owner', subject: userSubject(owner) };
      const created = await this.#queue.run(id, () => this.#committed(id, this.#store.createWaddle(record, [tuple])));
      if (created) {
        this.#emit({ kind: 'waddle-created', waddle: id }, { owner, actor: createdBy });
        return record;
      }
      if (input.id !== undefined || attempt >= 4) throw new Conflict(`Waddle ${id} already exists`);
    }
  }

  async renameWaddle(waddle: string, name: string, actor: Actor): Promise<WaddleRecord> {
    const text = displayText(name, 100, 'a Waddle name');
    return this.#updateWaddle(waddle, { name: text }, actor);
  }

  /** Days the channels' archives are kept: null = the server default, 0 = forever. */
  async setRetention(waddle: string, days: number | null, actor: Actor): Promise<WaddleRecord> {
    if (days !== null && (!Number.isInteger(days) || days < 0 || days > MAX_RETENTION_DAYS)) {
      throw new InvalidArgument(`retention must be a whole number of days from 0 to ${MAX_RETENTION_DAYS}, or the default`);
    }
    return this.#updateWaddle(waddle, { retentionDays: days }, actor);
  }

  /** Removes the Waddle, its channels and its tuples (only its owners, or the operator). */
  async deleteWaddle(waddle: string, actor: Actor): Promise<void> {
    await this.#queue.run(waddle, async () => {
      await this.#requireWaddle(waddle);
      await this.#require(actor, waddleObject(waddle), 'owner', 'only an owner may delete the Waddle');
      await this.#committed(waddle, this.#store.deleteWaddle(waddle));
    });
    this.#emit({ kind: 'waddle-deleted', waddle }, { actor });
  }

  /** Creates a channel (the Waddle's admins and owners, or the operator). */
  async createChannel(waddle: string, input: NewChannel, actor: Actor): Promise<ChannelRecord> {
    checkChannelName(input.name);
    const title = displayText(input.title ?? '', 200, 'a channel title', true);
    const record: ChannelRecord = {
      waddle,
      name: input.name,
      title,
      restricted: input.restricted === true,
      createdAt: this.#now(),
      createdBy: actor === OPERATOR ? OPERATOR : bareUser(actor),
    };
    await this.#queue.run(waddle, async () => {
      const meta = await this.#requireWaddle(waddle);
      await this.#require(actor, waddleObject(waddle), 'admin', 'only admins and owners of the Waddle may create channels');
      if (meta.channels.has(record.name)) throw new Conflict(`channel ${record.name} already exists in Waddle ${waddle}`);
      const tuples = record.restricted ? [] : [viewerTuple(waddle, record.name)];
      if (!(await this.#committed(waddle, this.#store.createChannel(record, tuples)))) {
        throw new Conflict(`channel ${record.name} already exists in Waddle ${waddle}`);
      }
    });
    this.#emit({ kind: 'channel-created', waddle, channel: record.name }, { actor, restricted: record.restricted });
    return record;
  }

  /** Changes a channel's title or restriction (its owners, the Waddle's admins and owners, or the operator). */
  async updateChannel(
    waddle: string,
    channel: string,
    patch: { title?: string; restricted?: boolean },
    actor: Actor,
  ): Promise<ChannelRecord> {
    const clean: { title?: string; restricted?: boolean } = {};
    if (patch.title !== undefined) clean.title = displayText(patch.title, 200, 'a channel title', true);
    if (patch.restricted !== undefined) clean.restricted = patch.restricted;
    const updated = await this.#queue.run(waddle, async () => {
      const current = await this.#requireChannel(waddle, channel, actor);
      const tuples: TupleChanges = {};
      if (clean.restricted === true && !current.restricted) tuples.remove = [viewerTuple(waddle, channel)];
      if (clean.restricted === false && current.restricted) tuples.add = [viewerTuple(waddle, channel)];
      await this.#committed(waddle, this.#store.updateChannel(waddle, channel, clean, tuples));
      return { ...current, ...clean };
    });
    this.#emit({ kind: 'channel-updated', waddle, channel }, { actor, ...clean });
    return updated;
  }

  /** Deletes a channel and its tuples (its owners, the Waddle's admins and owners, or the operator). */
  async deleteChannel(waddle: string, channel: string, actor: Actor): Promise<void> {
    await this.#queue.run(waddle, async () => {
      await this.#requireChannel(waddle, channel, actor);
      await this.#committed(waddle, this.#store.deleteChannel(waddle, channel));
    });
    this.#emit({ kind: 'channel-deleted', waddle, channel }, { actor });
  }

  /** XEP-0045 §9-§10 affiliation change at the Waddle level (applies to every channel). */
  async setWaddleAffiliation(waddle: string, userBare: string, affiliation: Affiliation, actor: Actor): Promise<void> {
    const user = bareUser(userBare);
    checkAffiliation(affiliation);
    const changed = await this.#queue.run(waddle, async () => {
      await this.#requireWaddle(waddle);
      const target = await this.affiliationOf(waddle, undefined, user);
      authorizeAffiliationChange({ actor: await this.#actorAffiliation(waddle, undefined, actor), target, next: affiliation });
      return this.#replaceAffiliation(waddle, waddleObject(waddle), user, affiliation);
    });
    if (changed) this.#emit({ kind: 'affiliation', waddle, user }, { affiliation, actor });
  }

  /** XEP-0045 §9-§10 affiliation change in one channel. */
  async setChannelAffiliation(waddle: string, channel: string, userBare: string, affiliation: Affiliation, actor: Actor): Promise<void> {
    const user = bareUser(userBare);
    checkAffiliation(affiliation);
    const changed = await this.#queue.run(waddle, async () => {
      await this.#requireChannel(waddle, channel);
      authorizeChannelChange({
        actor: await this.#actorAffiliation(waddle, channel, actor),
        actorInWaddle: await this.#actorAffiliation(waddle, undefined, actor),
        target: await this.affiliationOf(waddle, channel, user),
        targetInWaddle: await this.affiliationOf(waddle, undefined, user),
        next: affiliation,
      });
      return this.#replaceAffiliation(waddle, channelObject(waddle, channel), user, affiliation);
    });
    if (changed) this.#emit({ kind: 'affiliation', waddle, channel, user }, { affiliation, actor });
  }

  // ----- internals

  async #updateWaddle(waddle: string, patch: { name?: string; retentionDays?: number | null }, actor: Actor): Promise<WaddleRecord> {
    const updated = await this.#queue.run(waddle, async () => {
      const meta = await this.#requireWaddle(waddle);
      await this.#require(actor, waddleObject(waddle), 'owner', 'only an owner may change the Waddle');
      await this.#committed(waddle, this.#store.updateWaddle(waddle, patch));
      return { ...(meta.waddle as WaddleRecord), ...patch };
    });
    this.#emit({ kind: 'waddle-updated', waddle }, { actor, ...patch });
    return updated;
  }

  /** Replaces the user's affiliation tuples on `object`; false when nothing changed. Caller holds the lock. */
  async #replaceAffiliation(waddle: string, object: string, user: string, next: Affiliation): Promise<boolean> {
    const subject = userSubject(user);
    const held = (await this.#store.tuplesFor(waddle, subject)).filter(
      (t) => t.object === object && (AFFILIATION_RELATIONS as readonly string[]).includes(t.relation),
    );
    const relation = next === 'none' ? undefined : RELATION_OF[next];
    // XEP-0045 §10.4/§10.5: the last owner may not give up owner status (conflict). Applies to the Waddle
    // level only: a channel always keeps the Waddle's owners.
    if (object === waddleObject(waddle) && relation !== 'owner' && held.some((t) => t.relation === 'owner')) {
      const owners = (await this.#store.tuplesOf(waddle, object)).filter((t) => t.relation === 'owner' && t.subject.startsWith('user:'));
      if (owners.length <= 1) throw new Conflict(`${user} is the last owner of Waddle ${waddle}; make someone else owner first`);
    }
    const remove = held.filter((t) => t.relation !== relation);
    const add = relation === undefined || held.some((t) => t.relation === relation) ? [] : [{ object, relation, subject }];
    if (remove.length === 0 && add.length === 0) return false;
    await this.#committed(waddle, this.#store.writeTuples(waddle, { remove, add }));
    return true;
  }

  /** Waits for a write, then drops the Waddle's cache (also after a failed write: cheap, and always safe). */
  async #committed<T>(waddle: string, write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      this.checker.invalidate(waddle);
    }
  }

  #emit(change: WaddleChange, details: Record<string, unknown>): void {
    this.#log?.info({ ...change, ...details }, `waddle ${change.kind}`);
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        this.#log?.error({ err, ...change }, 'waddle change listener failed');
      }
    }
  }

  #meta(waddle: string): Promise<WaddleMeta> {
    const entry = this.checker.caches.entry(waddle);
    if (entry.meta === undefined) {
      const loading = Promise.all([this.#store.getWaddle(waddle), this.#store.listChannels(waddle)]).then(([w, list]) => ({
        waddle: w,
        channels: new Map(list.map((c) => [c.name, c])),
      }));
      entry.meta = loading;
      loading.catch(() => {
        if (entry.meta === loading) entry.meta = undefined;
      });
    }
    return entry.meta;
  }

  async #requireWaddle(waddle: string): Promise<WaddleMeta> {
    const meta = isWaddleId(waddle) ? await this.#meta(waddle) : undefined;
    if (meta?.waddle === undefined) throw new NotFound(`no Waddle ${waddle}`);
    return meta;
  }

  /** The channel; with `actor`, also requires the right to manage it (channel owner or Waddle admin). */
  async #requireChannel(waddle: string, channel: string, actor?: Actor): Promise<ChannelRecord> {
    const found = (await this.#requireWaddle(waddle)).channels.get(channel);
    if (found === undefined) throw new NotFound(`no channel ${channel} in Waddle ${waddle}`);
    if (actor !== undefined && actor !== OPERATOR) {
      const user = bareUser(actor);
      const allowed =
        (await this.check(channelObject(waddle, channel), 'owner', user)) || (await this.check(waddleObject(waddle), 'admin', user));
      if (!allowed) throw new PermissionDenied('only owners of the channel and admins of the Waddle may manage it');
    }
    return found;
  }

  async #require(actor: Actor, object: string, relation: Relation, message: string): Promise<void> {
    if (actor === OPERATOR) return;
    if (!(await this.check(object, relation, bareUser(actor)))) throw new PermissionDenied(message);
  }

  async #actorAffiliation(waddle: string, channel: string | undefined, actor: Actor): Promise<Affiliation | 'operator'> {
    return actor === OPERATOR ? 'operator' : this.affiliationOf(waddle, channel, bareUser(actor));
  }
}
