// Schema of one user storage-group file (<dataDir>/users/group-NN.db), applied by migrate.ts.
// Kept as TypeScript strings, not .sql files: they are bundled by the same import graph, need no file
// reads or asset copying into dist/, and run unchanged from .ts (type stripping) and from a tsc build.
// Forward-only: never edit or reorder a shipped entry, append a new one.

export const USER_MIGRATIONS: readonly string[] = [
  // 1: accounts, rosters, offline messages, block lists.
  `
  -- SCRAM verifiers only (RFC 5802 §3, RFC 7677), one column set per mechanism; base64 text.
  CREATE TABLE accounts (
    jid TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    sha1_salt TEXT NOT NULL,
    sha1_iterations INTEGER NOT NULL,
    sha1_stored_key TEXT NOT NULL,
    sha1_server_key TEXT NOT NULL,
    sha256_salt TEXT NOT NULL,
    sha256_iterations INTEGER NOT NULL,
    sha256_stored_key TEXT NOT NULL,
    sha256_server_key TEXT NOT NULL
  ) WITHOUT ROWID;

  -- RFC 6121 §2.1.1 item state; groups is a JSON array of strings.
  CREATE TABLE roster_items (
    jid TEXT NOT NULL,
    contact TEXT NOT NULL,
    name TEXT,
    subscription TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
    ask_out INTEGER NOT NULL CHECK (ask_out IN (0, 1)),
    pending_in INTEGER NOT NULL CHECK (pending_in IN (0, 1)),
    approved INTEGER NOT NULL CHECK (approved IN (0, 1)),
    groups TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (jid, contact)
  ) WITHOUT ROWID;

  -- XEP-0237 roster versioning: one counter per user, bumped by triggers on every item change so no code
  -- path can change a roster without changing its version. Kept when the account is deleted, so a re-created
  -- account never hands out a version a client may have cached for the old roster.
  CREATE TABLE roster_versions (
    jid TEXT PRIMARY KEY,
    version INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TRIGGER roster_items_bump_on_insert AFTER INSERT ON roster_items BEGIN
    INSERT INTO roster_versions (jid, version) VALUES (NEW.jid, 1)
      ON CONFLICT (jid) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER roster_items_bump_on_update AFTER UPDATE ON roster_items BEGIN
    INSERT INTO roster_versions (jid, version) VALUES (NEW.jid, 1)
      ON CONFLICT (jid) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER roster_items_bump_on_delete AFTER DELETE ON roster_items BEGIN
    INSERT INTO roster_versions (jid, version) VALUES (OLD.jid, 1)
      ON CONFLICT (jid) DO UPDATE SET version = version + 1;
  END;

  -- XEP-0160. AUTOINCREMENT so an id is never reused, even after the newest message is deleted: a delivery
  -- that lists, sends, then removes by id cannot delete a message stored in between.
  CREATE TABLE offline_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    jid TEXT NOT NULL,
    stamp INTEGER NOT NULL,
    xml TEXT NOT NULL
  );
  CREATE INDEX offline_messages_by_jid ON offline_messages (jid, id);

  -- XEP-0191 block list items, stored as given (bare JID, full JID or domain).
  CREATE TABLE blocks (
    jid TEXT NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (jid, item)
  ) WITHOUT ROWID;
  `,
  // 2: XEP-0484 FAST tokens.
  `
  -- Two slots per client (XEP-0484 §5.1): 'new' (issued, never used) and 'current' (used). The token is kept
  -- as issued, not hashed: the HT mechanisms need it as their HMAC key (see FastToken in ports.ts).
  CREATE TABLE fast_tokens (
    jid TEXT NOT NULL,
    user_agent_id TEXT NOT NULL,
    slot TEXT NOT NULL CHECK (slot IN ('new', 'current')),
    mechanism TEXT NOT NULL,
    token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (jid, user_agent_id, slot)
  ) WITHOUT ROWID;
  `,
  // 3: XEP-0313 personal archives and archiving preferences. The archive table is the one of group files
  // (groups-archive.ts, which documents the columns and indexes), written out here rather than imported so that
  // this shipped migration can never change when the group schema does.
  `
  CREATE TABLE archive (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    with_jid TEXT NOT NULL,
    with_resource TEXT NOT NULL DEFAULT '',
    xml TEXT NOT NULL
  );
  CREATE UNIQUE INDEX archive_by_id ON archive (owner, id);
  CREATE INDEX archive_by_owner ON archive (owner, seq);
  CREATE INDEX archive_by_with ON archive (owner, with_jid, seq);
  CREATE INDEX archive_by_ts ON archive (ts);

  -- Row counts per (owner, with_jid), kept by triggers so XEP-0059 <count/> of a whole archive, or of one
  -- contact, costs one small read instead of a scan of the owner's index (50 ms at 1M rows, measured).
  CREATE TABLE archive_counts (
    owner TEXT NOT NULL,
    with_jid TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (owner, with_jid)
  ) WITHOUT ROWID;
  CREATE TRIGGER archive_count_insert AFTER INSERT ON archive BEGIN
    INSERT INTO archive_counts (owner, with_jid, n) VALUES (NEW.owner, NEW.with_jid, 1)
      ON CONFLICT (owner, with_jid) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER archive_count_delete AFTER DELETE ON archive BEGIN
    UPDATE archive_counts SET n = n - 1 WHERE owner = OLD.owner AND with_jid = OLD.with_jid;
    DELETE FROM archive_counts WHERE owner = OLD.owner AND with_jid = OLD.with_jid AND n <= 0;
  END;

  -- XEP-0313 §6 (XEP-0441) preferences: default policy and the always/never lists as JSON arrays of bare JIDs.
  CREATE TABLE mam_prefs (
    jid TEXT PRIMARY KEY,
    default_policy TEXT NOT NULL CHECK (default_policy IN ('always', 'never', 'roster')),
    always_jids TEXT NOT NULL DEFAULT '[]',
    never_jids TEXT NOT NULL DEFAULT '[]'
  ) WITHOUT ROWID;
  `,
  // 4: per-user archive retention, overriding [archive] retention_days (`waddle user retention`).
  `
  -- days = 0 keeps the user's archive forever; no row = the server's setting.
  CREATE TABLE archive_retention (
    jid TEXT PRIMARY KEY,
    days INTEGER NOT NULL CHECK (days >= 0)
  ) WITHOUT ROWID;
  `,
];
