// The sessions whose home is this shard (the shard their bare JID hashes to). The connection itself
// may live on another shard (its "edge"): `edge` + `connId` say where to write.
import type { ShardId } from '../transport/channel.ts';
import type { Jid } from '../xmpp/jid.ts';
import type { Element } from '../xmpp/xml.ts';
import type { SerialQueue } from './serial-queue.ts';

export interface SessionRecord {
  readonly jid: Jid;
  readonly bare: string;
  readonly full: string;
  /** Where the connection lives; changes when a session is resumed on a new connection (XEP-0198). */
  edge: ShardId;
  connId: number;
  /** The connection is gone but the session waits for resumption (XEP-0198); writes are held back. */
  detached: boolean;
  readonly boundAt: number;
  readonly queue: SerialQueue;
  /** RFC 6121 §4.2: has sent initial presence and not yet unavailable. */
  available: boolean;
  priority: number;
  /** The last broadcast presence (without to/from), replayed to probes. */
  presence: Element | null;
  /** RFC 6121 §2.1.6: requested the roster, so it gets roster pushes and subscription requests. */
  interested: boolean;
  /** RFC 6121 §4.6: JIDs that got directed presence, to be told when this session goes offline. */
  readonly directedTo: Set<string>;
  /** Set once the session is gone; late stanzas for it are dropped or rerouted. */
  closed: boolean;
}

const NO_SESSIONS: readonly SessionRecord[] = Object.freeze([]);

export class SessionTable {
  private readonly users = new Map<string, Map<string, SessionRecord>>();
  /**
   * Each user's sessions as an array, replaced (never changed) when one comes or goes: `ofUser` runs for
   * every delivered stanza and returns it without copying, and a caller iterating it while a session
   * closes keeps a consistent snapshot.
   */
  private readonly lists = new Map<string, readonly SessionRecord[]>();
  /** Sessions by edge shard, then connection id (numbers: no key string to build and hash per stanza). */
  private readonly conns: Map<number, SessionRecord>[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(session: SessionRecord): void {
    let resources = this.users.get(session.bare);
    if (!resources) {
      resources = new Map();
      this.users.set(session.bare, resources);
    }
    resources.set(session.jid.resource, session);
    this.lists.set(session.bare, [...resources.values()]);
    this.setConn(session.edge, session.connId, session);
  }

  remove(session: SessionRecord): void {
    const resources = this.users.get(session.bare);
    if (resources?.get(session.jid.resource) === session) {
      resources.delete(session.jid.resource);
      if (resources.size === 0) {
        this.users.delete(session.bare);
        this.lists.delete(session.bare);
      } else this.lists.set(session.bare, [...resources.values()]);
    }
    this.deleteConn(session.edge, session.connId, session);
  }

  /** Moves a session to a new connection (XEP-0198 resumption). */
  reattach(session: SessionRecord, edge: ShardId, connId: number): void {
    this.deleteConn(session.edge, session.connId, session);
    session.edge = edge;
    session.connId = connId;
    session.detached = false;
    this.setConn(edge, connId, session);
  }

  /** The user's sessions (a snapshot: do not keep it across turns, ask again). */
  ofUser(bare: string): readonly SessionRecord[] {
    return this.lists.get(bare) ?? NO_SESSIONS;
  }

  get(bare: string, resource: string): SessionRecord | undefined {
    return this.users.get(bare)?.get(resource);
  }

  byConnection(edge: ShardId, connId: number): SessionRecord | undefined {
    return this.conns[edge]?.get(connId);
  }

  *all(): IterableIterator<SessionRecord> {
    for (const byId of this.conns) if (byId) yield* byId.values();
  }

  private setConn(edge: ShardId, connId: number, session: SessionRecord): void {
    let byId = this.conns[edge];
    if (!byId) {
      byId = new Map();
      this.conns[edge] = byId;
    }
    if (!byId.has(connId)) this.count++;
    byId.set(connId, session);
  }

  private deleteConn(edge: ShardId, connId: number, session: SessionRecord): void {
    const byId = this.conns[edge];
    if (byId?.get(connId) === session) {
      byId.delete(connId);
      this.count--;
    }
  }
}
