// FastTokenStore over libSQL user-group files (XEP-0484). Each operation is one unit of the write batch, so
// a rotation (drop the older token, promote the used one) is never seen half done.
import type { Row } from '@libsql/client';
import { checkFastTokenTtl, newFastTokenSecret } from './fast-token-secret.ts';
import type { FastToken, FastTokenStore } from './ports.ts';
import { intCol, textCol, type UserDbResolver } from './user-db.ts';

const COLUMNS = 'jid, user_agent_id, mechanism, token, created_at, expires_at';
/** Newest first; a 'new' token before a 'current' one issued in the same millisecond. */
const NEWEST_FIRST = "ORDER BY created_at DESC, slot = 'new' DESC, user_agent_id";

export class FastTokenRepo implements FastTokenStore {
  readonly #dbs: UserDbResolver;

  constructor(dbs: UserDbResolver) {
    this.#dbs = dbs;
  }

  async issue(jid: string, userAgentId: string, mechanism: string, ttlMs: number, now = Date.now()): Promise<FastToken> {
    checkFastTokenTtl(ttlMs);
    const token: FastToken = { jid, userAgentId, mechanism, token: newFastTokenSecret(), createdAt: now, expiresAt: now + ttlMs };
    const db = await this.#dbs.forUser(jid);
    await db.writer.enqueueUnit([
      // Housekeeping: the user's expired tokens go whenever a new one is issued, so rows never pile up.
      { sql: 'DELETE FROM fast_tokens WHERE jid = ? AND expires_at <= ?', args: [jid, now] },
      // XEP-0484 §3.5: the unused token of the 'new' slot is replaced; the 'current' one stays valid.
      {
        sql: `INSERT INTO fast_tokens (${COLUMNS}, slot) VALUES (?, ?, ?, ?, ?, ?, 'new')
          ON CONFLICT (jid, user_agent_id, slot) DO UPDATE SET mechanism = excluded.mechanism, token = excluded.token,
            created_at = excluded.created_at, expires_at = excluded.expires_at`,
        args: [jid, userAgentId, mechanism, token.token, token.createdAt, token.expiresAt],
      },
    ]);
    return token;
  }

  async used(jid: string, userAgentId: string, token: string): Promise<void> {
    const db = await this.#dbs.forUser(jid);
    await db.writer.enqueueUnit([
      // XEP-0484 §3.5: tokens of the same client expiring before the used one are invalidated. An unknown
      // token makes the subquery NULL, and a comparison with NULL deletes nothing.
      {
        sql: `DELETE FROM fast_tokens WHERE jid = ?1 AND user_agent_id = ?2 AND expires_at <
          (SELECT expires_at FROM fast_tokens WHERE jid = ?1 AND user_agent_id = ?2 AND token = ?3)`,
        args: [jid, userAgentId, token],
      },
      // §5.1: using the 'new' token moves it to 'current', overwriting what was there.
      {
        sql: `DELETE FROM fast_tokens WHERE jid = ?1 AND user_agent_id = ?2 AND slot = 'current' AND EXISTS
          (SELECT 1 FROM fast_tokens WHERE jid = ?1 AND user_agent_id = ?2 AND slot = 'new' AND token = ?3)`,
        args: [jid, userAgentId, token],
      },
      {
        sql: `UPDATE fast_tokens SET slot = 'current' WHERE jid = ? AND user_agent_id = ? AND slot = 'new' AND token = ?`,
        args: [jid, userAgentId, token],
      },
    ]);
  }

  async valid(jid: string, userAgentId?: string, now = Date.now()): Promise<FastToken[]> {
    const db = await this.#dbs.forUser(jid);
    const rs = await db.client.execute(
      userAgentId === undefined
        ? { sql: `SELECT ${COLUMNS} FROM fast_tokens WHERE jid = ? AND expires_at > ? ${NEWEST_FIRST}`, args: [jid, now] }
        : {
            sql: `SELECT ${COLUMNS} FROM fast_tokens WHERE jid = ? AND user_agent_id = ? AND expires_at > ? ${NEWEST_FIRST}`,
            args: [jid, userAgentId, now],
          },
    );
    return rs.rows.map(tokenFromRow);
  }

  async revoke(jid: string, userAgentId?: string): Promise<void> {
    const db = await this.#dbs.forUser(jid);
    await db.writer.enqueue(
      userAgentId === undefined
        ? { sql: 'DELETE FROM fast_tokens WHERE jid = ?', args: [jid] }
        : { sql: 'DELETE FROM fast_tokens WHERE jid = ? AND user_agent_id = ?', args: [jid, userAgentId] },
    );
  }
}

function tokenFromRow(row: Row): FastToken {
  return {
    jid: textCol(row, 'jid'),
    userAgentId: textCol(row, 'user_agent_id'),
    mechanism: textCol(row, 'mechanism'),
    token: textCol(row, 'token'),
    createdAt: intCol(row, 'created_at'),
    expiresAt: intCol(row, 'expires_at'),
  };
}
