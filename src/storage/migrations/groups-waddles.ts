// Tables of the group chat file for Waddles (see groups.ts): used in <data>/waddles/<id>.db, empty in the
// conference room files that share the schema.
export const GROUP_WADDLES_SQL = `
  -- One row per file: the Waddle itself. retention_days NULL = the server default, 0 = keep forever.
  CREATE TABLE waddles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    retention_days INTEGER CHECK (retention_days IS NULL OR retention_days >= 0)
  ) WITHOUT ROWID;

  -- A channel is the XEP-0045 room <name>@<waddle>.groups.<domain>.
  CREATE TABLE waddle_channels (
    waddle TEXT NOT NULL REFERENCES waddles (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    restricted INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1)),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (waddle, name)
  ) WITHOUT ROWID;

  -- Zanzibar relationship tuples object#relation@subject (src/waddles/permissions.ts). The subject is split
  -- so both lookups a check makes are index ranges: a user (subject 'user:<jid>', subject_rel '') is a
  -- point lookup on the primary key, the usersets of object#relation the range subject_rel > ''.
  -- tuples_by_subject answers the reverse question (what does this user or userset hold).
  CREATE TABLE tuples (
    waddle TEXT NOT NULL REFERENCES waddles (id) ON DELETE CASCADE,
    object TEXT NOT NULL,
    relation TEXT NOT NULL,
    subject TEXT NOT NULL,
    subject_rel TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (object, relation, subject_rel, subject)
  ) WITHOUT ROWID;
  CREATE INDEX tuples_by_subject ON tuples (subject, subject_rel, object, relation);
  CREATE INDEX tuples_by_waddle ON tuples (waddle);
`;
