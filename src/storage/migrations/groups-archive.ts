// Tables of the group chat file for room archives (XEP-0313 §3.4.2, MUC archives; see groups.ts). Users' files
// carry the same `archive` table (migration 3 of users.ts, written out there so that a later edit here can never
// change a shipped user migration). The ArchiveRepo (src/storage/archive-repo.ts) serves both kinds of file.
//
// Indexes, each chosen for a query the repo runs (EXPLAIN QUERY PLAN asserted in test/unit/storage/archive-repo.test.ts):
// - archive_by_owner (owner, seq): "latest N of an owner" and every page without `with` are one index range scan
//   in archive order, with no sort step, however large the archive;
// - archive_by_with (owner, with_jid, seq): the same for the XEP-0313 §4.1.1 `with` filter;
// - archive_by_id (owner, id) UNIQUE: RSM after/before and `ids` lookups (XEP-0359 ids are unique per archive);
// - archive_by_ts (ts): retention deletes the oldest rows of a file without scanning it.
export const GROUP_ARCHIVE_SQL = `
  -- One archived stanza. seq is the archive order (XEP-0313 §3.1: the order of arrival, not of timestamps); AUTOINCREMENT
  -- so a seq is never reused after the newest rows were deleted. id is the XEP-0359 stanza-id the archive assigned.
  -- with_jid is the bare JID of the other party (a room archive: the occupant's real bare JID, or '');
  -- with_resource its resource when known ('' otherwise), for the full-JID form of the 'with' filter.
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
`;
