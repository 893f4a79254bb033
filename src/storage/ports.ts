// Storage ports for per-user state (STYLE rule 5: modules see storage only through these interfaces).
// Keys are bare JIDs (`local@domain`), already normalised (RFC 7622 §3) and lowercase; `contact` is a bare JID.
// Implementations: the libSQL repos in src/storage/*-repo.ts and the fakes in src/storage/memory/; both pass
// test/unit/storage/user-stores.contract.test.ts.

/** SCRAM verifier material (RFC 5802 §3, RFC 7677); all byte strings are base64. No password is ever stored. */
export interface ScramCredentials {
  salt: string;
  iterations: number;
  storedKey: string;
  serverKey: string;
}

export interface Account {
  jid: string;
  credentials: { 'SHA-1': ScramCredentials; 'SHA-256': ScramCredentials };
  /** ms since the epoch */
  createdAt: number;
}

export interface AccountStore {
  get(jid: string): Promise<Account | undefined>;
  /** `false` if the account already exists (nothing changed). */
  create(account: Account): Promise<boolean>;
  /** `false` if there is no such account. */
  setCredentials(jid: string, creds: Account['credentials']): Promise<boolean>;
  /**
   * Deletes the account and, atomically with it, the user's roster items, offline messages, block list and
   * FAST tokens (RFC 6121 leaves no state behind for a removed account; XEP-0077 §3.2 "cancel"). The roster version
   * counter is kept so a re-created account never reuses an old version id (XEP-0237 §2: a version
   * identifies one roster state). `false` if there was no account (the purge still runs).
   */
  delete(jid: string): Promise<boolean>;
  /** Every account this store can reach (all owned groups), sorted. Meant for offline admin (CLI), not hot paths. */
  list(): Promise<string[]>;
}

export type Subscription = 'none' | 'to' | 'from' | 'both';

export interface RosterItem {
  contact: string;
  name: string | null;
  subscription: Subscription;
  /** Pending outbound 'subscribe' (RFC 6121 §3.1.2, shown to clients as ask='subscribe'). */
  askOut: boolean;
  /** Inbound request awaiting approval (RFC 6121 §3.1.3). */
  pendingIn: boolean;
  /** Pre-approval (RFC 6121 §3.4). */
  approved: boolean;
  groups: string[];
}

export interface RosterStore {
  /** Items sorted by contact. `version` is 0 for a user who never had a roster. */
  list(jid: string): Promise<{ version: number; items: RosterItem[] }>;
  get(jid: string, contact: string): Promise<RosterItem | undefined>;
  /** Upsert; returns the new roster version, strictly greater than any before (XEP-0237 §2). */
  put(jid: string, item: RosterItem): Promise<number>;
  /** Returns the new version, unchanged if nothing was removed. */
  remove(jid: string, contact: string): Promise<number>;
  version(jid: string): Promise<number>;
}

export interface OfflineMessage {
  id: number;
  xml: string;
  /** ms since the epoch (XEP-0203 delay stamp source) */
  stamp: number;
}

export interface OfflineStore {
  /** `false` (nothing stored) when the user already holds `maxPerUser` messages (XEP-0160 §3: storage may be capped). */
  push(jid: string, xml: string, stamp: number, maxPerUser: number): Promise<boolean>;
  /** Oldest first. */
  list(jid: string): Promise<OfflineMessage[]>;
  /** After delivery; ids that do not exist (or belong to another user) are ignored. */
  remove(jid: string, ids: number[]): Promise<void>;
  count(jid: string): Promise<number>;
}

/** XEP-0191 block list of bare/full JIDs or domains, stored as given. */
export interface BlockStore {
  /** Sorted. */
  list(jid: string): Promise<string[]>;
  /** Items already present are ignored. */
  add(jid: string, items: string[]): Promise<void>;
  remove(jid: string, items: string[]): Promise<void>;
  /** XEP-0191 §3.4: unblock everything. */
  clear(jid: string): Promise<void>;
}

/**
 * One XEP-0484 FAST token. `token` is the secret itself, not a hash of it: the HT mechanisms use it as the
 * HMAC key (draft-schmaus-kitten-sasl-ht-08 §3.1), so the server must be able to recompute the proof, as
 * Prosody's mod_sasl2_fast does. Treat stored tokens like passwords (XEP-0484 §4.1).
 */
export interface FastToken {
  jid: string;
  /** The SASL2 <user-agent id='…'/> of the client it was issued to (XEP-0388 §2.1, XEP-0484 §4.1). */
  userAgentId: string;
  /** The HT mechanism the token is bound to (XEP-0484 §3.4). */
  mechanism: string;
  token: string;
  /** ms since the epoch */
  expiresAt: number;
  /** ms since the epoch */
  createdAt: number;
}

/**
 * XEP-0484 tokens, per user and client, in the two slots of XEP-0484 §5.1: 'new' (issued, never used) and
 * 'current' (used at least once). At most two tokens per client are ever valid.
 */
export interface FastTokenStore {
  /**
   * Issues a fresh token (256 random bits) for (jid, userAgentId) into the 'new' slot. It replaces an earlier
   * token that was never used (XEP-0484 §3.5: SHOULD invalidate issued-but-unused tokens) and leaves the
   * 'current' one valid until the new one is used (§3.5: MUST NOT invalidate it before), so a client that
   * never received the new token can still log in.
   */
  issue(jid: string, userAgentId: string, mechanism: string, ttlMs: number, now?: number): Promise<FastToken>;
  /**
   * Records a successful authentication with `token` (XEP-0484 §3.5): every token of the same client with an
   * earlier expiry is invalidated, and a 'new' token becomes the 'current' one. Unknown tokens are ignored.
   */
  used(jid: string, userAgentId: string, token: string): Promise<void>;
  /** Currently valid (unexpired) tokens of the user, optionally of one client only, newest first. */
  valid(jid: string, userAgentId?: string, now?: number): Promise<FastToken[]>;
  /** Invalidates all tokens of (jid, userAgentId) (XEP-0484 §3.6 'invalidate'), or all of the user's. */
  revoke(jid: string, userAgentId?: string): Promise<void>;
}

export interface UserStores {
  accounts: AccountStore;
  roster: RosterStore;
  offline: OfflineStore;
  blocks: BlockStore;
  fast: FastTokenStore;
  /** XEP-0313 personal archives (owner = the user's bare JID). */
  archive: ArchiveStore;
  mamPrefs: MamPrefsStore;
  /** Commits everything queued so far, then closes every file. Later calls fail. */
  close(): Promise<void>;
  /** Resolves when every write queued before the call has committed (or failed). */
  flush(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// Message archives (XEP-0313) and group chat (XEP-0045) state. Personal archives live in the user's
// group file (users/group-NN.db); room archives, rooms, affiliations, Waddles and permission tuples live
// in the file of the room's *realm*: `<data>/waddles/<id>.db` for the channels of a Waddle, or
// `<data>/rooms/group-NN.db` (slot group of the room's bare JID) for ad-hoc rooms on conference.<domain>.
// Both kinds of group file share one schema (src/storage/migrations/groups.ts).

/** One archived stanza (XEP-0313 §4: the whole stanza is kept, so every extension comes back intact). */
export interface ArchivedStanza {
  /** XEP-0359 stanza-id the archive assigned; unique per archive owner, unguessable. */
  id: string;
  /** ms since the epoch, when the server archived it (XEP-0313 result <delay stamp>). */
  ts: number;
  /**
   * Personal archive: the bare JID of the other party. Room archive: the real bare JID of the occupant
   * who sent it ('' if unknown); used for the `with` filter on room archives (XEP-0313 §5.1.1).
   */
  with: string;
  /** The stanza as stored, serialised. */
  xml: string;
}

export interface ArchiveQuery {
  /** Bare JID (matches the bare `with`), or full JID (exact match). */
  with?: string;
  /** ms since the epoch, inclusive. */
  start?: number;
  /** ms since the epoch, inclusive. */
  end?: number;
  /** urn:xmpp:mam:2 `ids` filter (XEP-0313 §5.1.2). */
  ids?: readonly string[];
  /** XEP-0059: items strictly after this id (forward paging). */
  after?: string;
  /** XEP-0059: items strictly before this id; '' means "the last page". */
  before?: string;
  /** XEP-0313 #extended: bounds like after/before but combinable with RSM paging. */
  afterId?: string;
  beforeId?: string;
  /** Page size, already clamped by the caller. */
  max: number;
}

export interface ArchivePage {
  /** Always in archive (chronological) order, oldest first. */
  items: ArchivedStanza[];
  /** XEP-0313 §5.3: true when this page reaches the end of the result set in the paging direction. */
  complete: boolean;
  /** Total matching items ignoring paging (XEP-0059 <count/>). */
  count: number;
  /** XEP-0059 <first index=…/>: index of the first item in the whole result set. */
  firstIndex: number;
}

export interface ArchiveStore {
  /** Resolves once the entry is committed (durable in the WAL), batched with other writes of the same turn. */
  append(owner: string, entry: ArchivedStanza): Promise<void>;
  /** Rejects with Error code 'ERR_ITEM_NOT_FOUND' when `after`/`before`/`afterId`/`beforeId` name an unknown id (XEP-0313 §5.1.3). */
  query(owner: string, q: ArchiveQuery): Promise<ArchivePage>;
  get(owner: string, id: string): Promise<ArchivedStanza | undefined>;
  /** Replaces a stored stanza's XML (XEP-0424/0425 tombstones). `false` if there is no such entry. */
  replace(owner: string, id: string, xml: string): Promise<boolean>;
  /** XEP-0313 §6 metadata: the first and last entry of the archive. */
  bounds(owner: string): Promise<{ first?: { id: string; ts: number }; last?: { id: string; ts: number } }>;
  /**
   * Retention: deletes at most `limit` entries older than `before` (ms), oldest first, of one owner or of every
   * owner in this store's files but those in `except` (users with their own retention); returns how many.
   */
  expire(before: number, limit: number, owner?: string, except?: ReadonlySet<string>): Promise<number>;
  /** Deletes an owner's whole archive (account or room removed). */
  removeOwner(owner: string): Promise<void>;
}

/** XEP-0313 §6 preferences. */
export interface MamPrefs {
  default: 'always' | 'never' | 'roster';
  always: string[];
  never: string[];
}

export interface MamPrefsStore {
  /** undefined when the user never set any (the server's default applies). */
  get(jid: string): Promise<MamPrefs | undefined>;
  set(jid: string, prefs: MamPrefs): Promise<void>;
  /** The user's own archive retention in days (0 = forever), or undefined for the server's setting. */
  retention(jid: string): Promise<number | undefined>;
  /** Sets (or with null, removes) the user's own retention. */
  setRetention(jid: string, days: number | null): Promise<void>;
  /** Every user with their own retention, in the files this store owns (for the retention sweep). */
  retentionOverrides(): Promise<{ jid: string; days: number }[]>;
}

export type { RoomStore } from './ports-rooms.ts';
export type { WaddleStore } from './ports-waddles.ts';
import type { RoomStore } from './ports-rooms.ts';
import type { WaddleStore } from './ports-waddles.ts';

/**
 * Group chat state of the realms (Waddles, conference room groups) one shard owns. Keys are room bare JIDs
 * (`chan@w1.groups.example.org`, `room@conference.example.org`) or Waddle ids; the file is found from the
 * key alone (src/shard/realm.ts), never from a shard index.
 */
export interface GroupStores {
  /** Room archives (owner = the room's bare JID). */
  archive: ArchiveStore;
  rooms: RoomStore;
  waddles: WaddleStore;
  flush(): Promise<void>;
  close(): Promise<void>;
}
