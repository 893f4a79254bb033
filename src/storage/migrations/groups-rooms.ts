// Tables of the group chat file for persistent XEP-0045 rooms (see groups.ts, ports-rooms.ts).
export const GROUP_ROOMS_SQL = `
  -- One row per persistent room (XEP-0045 §10.2). config is a JSON object written by the muc module.
  CREATE TABLE room_config (
    room TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    subject_by TEXT NOT NULL DEFAULT '',
    subject_at INTEGER NOT NULL DEFAULT 0,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- XEP-0045 §5.2 affiliations that outlive a visit; 'none' is the absence of a row.
  CREATE TABLE room_affiliations (
    room TEXT NOT NULL REFERENCES room_config (room) ON DELETE CASCADE,
    jid TEXT NOT NULL,
    affiliation TEXT NOT NULL CHECK (affiliation IN ('owner', 'admin', 'member', 'outcast')),
    nick TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (room, jid)
  ) WITHOUT ROWID;
`;
