// The rooms of this shard (XEP-0045 §10.2 persistent rooms, §10.1 new rooms), in memory and loaded from
// the RoomStore on first use. A room leaves memory when its last occupant leaves: a temporary room is then
// gone (and so is its archive), a persistent one is loaded again by the next stanza for it.
import { randomBytes } from 'node:crypto';
import type { ArchiveStore } from '../../router/module.ts';
import { waddleOfDomain } from '../../shard/realm.ts';
import type { RoomStore, StoredAffiliation } from '../../storage/ports-rooms.ts';
import type { Logger } from '../../telemetry/log.ts';
import { configFromJson, type RoomConfig } from './config-form.ts';
import type { MucMetrics } from './metrics.ts';
import { type Affiliation, Room, type RoomKind } from './room.ts';

export interface RoomRegistryDeps {
  domain: string;
  historyCap: number;
  /** ctx.config.archive.enabled: without it rooms log nothing (history stays in memory). */
  archiveEnabled: boolean;
  store: RoomStore;
  archive: ArchiveStore;
  metrics: MucMetrics;
  log: Logger;
}

export class RoomRegistry {
  readonly #d: RoomRegistryDeps;
  readonly #rooms = new Map<string, Room>();

  constructor(d: RoomRegistryDeps) {
    this.#d = d;
  }

  /** The kind of a room JID: a Waddle channel or a conference room. */
  kindOf(jid: string): RoomKind {
    const at = jid.indexOf('@');
    const waddle = waddleOfDomain(jid.slice(at + 1), this.#d.domain);
    return waddle === undefined ? { kind: 'conference' } : { kind: 'channel', waddle, channel: jid.slice(0, at) };
  }

  /** Rooms in memory (live). */
  live(): IterableIterator<Room> {
    return this.#rooms.values();
  }

  peek(jid: string): Room | undefined {
    return this.#rooms.get(jid);
  }

  /** The room in memory, else loaded from the store, else undefined (no such room). */
  async get(jid: string): Promise<Room | undefined> {
    const live = this.#rooms.get(jid);
    if (live) return live;
    const stored = await this.#d.store.get(jid);
    if (!stored) return undefined;
    // Loaded while we waited (callers serialise per room, but reads for disco are not serialised).
    const raced = this.#rooms.get(jid);
    if (raced) return raced;
    const room = new Room(jid, this.kindOf(jid), configFromJson(stored.config, this.#d.historyCap), stored.secret, stored.createdAt);
    room.subject = { text: stored.subject, by: stored.subjectBy, at: stored.subjectAt };
    for (const a of await this.#d.store.affiliations(jid)) room.setAffiliation(a.jid, a.affiliation, a.nick, a.reason);
    this.#add(room);
    return room;
  }

  /** A new room in memory (§10.1.1); stored once it is persistent. */
  create(jid: string, config: RoomConfig, locked: boolean): Room {
    const room = new Room(jid, this.kindOf(jid), config, randomBytes(32).toString('base64url'), Date.now());
    room.locked = locked;
    this.#add(room);
    return room;
  }

  #add(room: Room): void {
    room.archiveAvailable = this.#d.archiveEnabled;
    this.#rooms.set(room.jid, room);
    this.#d.metrics.rooms.set(this.#rooms.size);
  }

  /** Writes config and subject (and, with `withAffiliations`, the whole affiliation list) if the room is persistent. */
  async save(room: Room, withAffiliations = false): Promise<void> {
    if (!room.config.persistent) return;
    const row = {
      jid: room.jid,
      config: { ...room.config } as unknown as Record<string, unknown>,
      subject: room.subject.text,
      subjectBy: room.subject.by,
      subjectAt: room.subject.at,
      secret: room.secret,
      createdAt: room.createdAt,
    };
    if (!withAffiliations) return this.#d.store.save(row);
    const list: StoredAffiliation[] = [...room.affiliations].map(([jid, e]) => ({
      jid,
      affiliation: e.affiliation,
      nick: e.nick,
      reason: e.reason,
    }));
    return this.#d.store.save(row, list);
  }

  /** Sets an affiliation in memory, and in the store for a persistent room. */
  async setAffiliation(room: Room, jid: string, affiliation: Affiliation, nick = '', reason = ''): Promise<void> {
    room.setAffiliation(jid, affiliation, nick, reason);
    if (!room.config.persistent) return;
    await this.#d.store.setAffiliation(room.jid, affiliation === 'none' ? { jid, affiliation } : { jid, affiliation, nick, reason });
  }

  /** Config changed: persists, or forgets a room that became temporary (its row, not its live state). */
  async configChanged(room: Room, wasPersistent: boolean): Promise<void> {
    if (room.config.persistent) await this.save(room, !wasPersistent);
    else if (wasPersistent) await this.#d.store.remove(room.jid);
  }

  /** The last occupant left: drop from memory; a temporary room is gone for good (its archive too). */
  async released(room: Room): Promise<void> {
    if (!room.empty || this.#rooms.get(room.jid) !== room) return;
    this.#rooms.delete(room.jid);
    this.#d.metrics.rooms.set(this.#rooms.size);
    if (!room.config.persistent && room.kind.kind === 'conference') {
      // A later room of the same name must not inherit this one's messages.
      await this.#d.archive
        .removeOwner(room.jid)
        .catch((err: unknown) => this.#d.log.warn({ err, room: room.jid }, 'could not drop room archive'));
    }
  }

  /** §10.9: the room, its stored state and its archive are removed. */
  async destroy(room: Room): Promise<void> {
    this.#rooms.delete(room.jid);
    this.#d.metrics.rooms.set(this.#rooms.size);
    await this.#d.store.remove(room.jid);
    await this.#d.archive.removeOwner(room.jid);
  }
}
