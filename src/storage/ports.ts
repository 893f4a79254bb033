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
   * Deletes the account and, atomically with it, the user's roster items, offline messages and block list
   * (RFC 6121 leaves no state behind for a removed account; XEP-0077 §3.2 "cancel"). The roster version
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

export interface UserStores {
  accounts: AccountStore;
  roster: RosterStore;
  offline: OfflineStore;
  blocks: BlockStore;
  /** Commits everything queued so far, then closes every file. Later calls fail. */
  close(): Promise<void>;
  /** Resolves when every write queued before the call has committed (or failed). */
  flush(): Promise<void>;
}
