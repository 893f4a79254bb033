// Storage port for Waddles (communities), their channels and the relationship tuples of the permission
// model (src/waddles/permissions.ts). Implemented by WaddleRepo (src/storage/waddle-repo.ts) over the
// Waddle's own file, <data>/waddles/<id>.db: every method takes the Waddle id first, which is also the
// key its file is found by (src/shard/realm.ts).

/** One Waddle (one row per file). */
export interface WaddleRecord {
  /** A DNS label (isWaddleId): the Waddle's domain is `<id>.groups.<domain>`. */
  id: string;
  name: string;
  /** ms since the epoch. */
  createdAt: number;
  /** Bare JID of the user who created it, or 'operator'. */
  createdBy: string;
  /**
   * Days room archives of the Waddle's channels are kept: null = the server default
   * (config.archive.retentionDays), 0 = forever.
   */
  retentionDays: number | null;
}

/** One channel: the XEP-0045 room `<name>@<waddle>.groups.<domain>`. */
export interface ChannelRecord {
  waddle: string;
  /** The room's localpart: a lowercase JID localpart. */
  name: string;
  /** Human-readable name ('' when unset; the room name falls back to `name`). */
  title: string;
  /** Only channel members/admins/owners and the Waddle's admins/owners may view it. */
  restricted: boolean;
  createdAt: number;
  createdBy: string;
}

/**
 * A Zanzibar relationship tuple `object#relation@subject`.
 * object: `waddle:<id>` or `channel:<waddle>/<channel>`.
 * subject: a user `user:<bare jid>`, or a userset `<object>#<relation>` (everyone having that relation).
 */
export interface Tuple {
  object: string;
  relation: string;
  subject: string;
}

export interface WaddleStore {
  getWaddle(id: string): Promise<WaddleRecord | undefined>;
  /** Every Waddle with a file this process may open (the CLI: all of them; a shard: the ones it owns). */
  listWaddles(): Promise<WaddleRecord[]>;
  /** Creates the Waddle with its first tuples in one transaction; false if the id is taken. */
  createWaddle(waddle: WaddleRecord, tuples: readonly Tuple[]): Promise<boolean>;
  /** false if there is no such Waddle. */
  updateWaddle(id: string, patch: { name?: string; retentionDays?: number | null }): Promise<boolean>;
  /** Deletes the Waddle, its channels and all its tuples (the file stays); false if there was none. */
  deleteWaddle(id: string): Promise<boolean>;

  getChannel(waddle: string, name: string): Promise<ChannelRecord | undefined>;
  /** Ordered by name. */
  listChannels(waddle: string): Promise<ChannelRecord[]>;
  /** Creates the channel with its first tuples in one transaction; false if the name is taken. */
  createChannel(channel: ChannelRecord, tuples: readonly Tuple[]): Promise<boolean>;
  /** Updates metadata and tuples in one transaction; false if there is no such channel. */
  updateChannel(waddle: string, name: string, patch: { title?: string; restricted?: boolean }, tuples?: TupleChanges): Promise<boolean>;
  /** Deletes the channel and every tuple naming it (as object or as userset); false if there was none. */
  deleteChannel(waddle: string, name: string): Promise<boolean>;

  /** Is this exact tuple stored? */
  hasTuple(waddle: string, tuple: Tuple): Promise<boolean>;
  /** The userset subjects (`<object>#<relation>`, not users) of `object#relation`. */
  usersetsOf(waddle: string, object: string, relation: string): Promise<string[]>;
  /** Every tuple whose object is `object`. */
  tuplesOf(waddle: string, object: string): Promise<Tuple[]>;
  /** Every tuple whose subject is `subject` (a user or a userset): the reverse index. */
  tuplesFor(waddle: string, subject: string): Promise<Tuple[]>;
  /** Removes then adds, in one transaction (adding an existing tuple or removing a missing one is a no-op). */
  writeTuples(waddle: string, changes: TupleChanges): Promise<void>;
}

export interface TupleChanges {
  add?: readonly Tuple[];
  remove?: readonly Tuple[];
}
