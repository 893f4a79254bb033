// Storage port for persistent XEP-0045 rooms: configuration, subject and affiliations (XEP-0045 §10.2:
// a persistent room keeps them when its last occupant leaves and across restarts). Temporary rooms live
// in memory only and are never written here. Implemented by src/storage/room-repo.ts over the group files
// (the room's realm file, src/shard/realm.ts); keys are room bare JIDs.

export type RoomAffiliation = 'owner' | 'admin' | 'member' | 'outcast';

/** One entry of a room's affiliation lists (XEP-0045 §9.1, §9.5, §10.3, §10.6); 'none' is never stored. */
export interface StoredAffiliation {
  /** Real bare JID (or a domain, for a server ban). */
  jid: string;
  affiliation: RoomAffiliation;
  /** XEP-0045 §9.5: a member's reserved nick, '' when none. */
  nick: string;
  /** Reason given when the affiliation was set (§9.1 ban reasons), '' when none. */
  reason: string;
}

export interface StoredRoom {
  /** Room bare JID. */
  jid: string;
  /**
   * The room configuration as the muc module's codec writes it (JSON object). Opaque here, so new
   * room options need no migration.
   */
  config: Record<string, unknown>;
  subject: string;
  /** Occupant nick (or room JID) that set the subject, '' when never set. */
  subjectBy: string;
  /** ms since the epoch, 0 when never set. */
  subjectAt: number;
  /** Per-room secret for XEP-0421 occupant ids: kept so ids stay stable across restarts. */
  secret: string;
  /** ms since the epoch. */
  createdAt: number;
}

export interface RoomStore {
  get(room: string): Promise<StoredRoom | undefined>;
  /**
   * Creates or replaces the room row; with `affiliations` given, the room's affiliation list is replaced
   * by it in the same transaction (a room that just became persistent saves its in-memory lists).
   */
  save(room: StoredRoom, affiliations?: readonly StoredAffiliation[]): Promise<void>;
  /** Deletes the room and its affiliations (XEP-0045 §10.9 destruction, or the room became temporary). */
  remove(room: string): Promise<void>;
  /** Sorted by JID. */
  affiliations(room: string): Promise<StoredAffiliation[]>;
  /** Sets one entry; affiliation 'none' removes it (XEP-0045 §9.2, §9.4, §10.4). */
  setAffiliation(room: string, entry: StoredAffiliation | { jid: string; affiliation: 'none' }): Promise<void>;
  /** Persistent rooms stored in the files this shard owns whose JID ends with `@<domain>` (disco#items of a service). */
  list(domain: string): Promise<string[]>;
}
