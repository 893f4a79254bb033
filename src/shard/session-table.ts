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

export class SessionTable {
  private readonly users = new Map<string, Map<string, SessionRecord>>();
  private readonly conns = new Map<string, SessionRecord>();

  get size(): number {
    return this.conns.size;
  }

  add(session: SessionRecord): void {
    let resources = this.users.get(session.bare);
    if (!resources) {
      resources = new Map();
      this.users.set(session.bare, resources);
    }
    resources.set(session.jid.resource, session);
    this.conns.set(connKey(session.edge, session.connId), session);
  }

  remove(session: SessionRecord): void {
    const resources = this.users.get(session.bare);
    if (resources?.get(session.jid.resource) === session) {
      resources.delete(session.jid.resource);
      if (resources.size === 0) this.users.delete(session.bare);
    }
    this.conns.delete(connKey(session.edge, session.connId));
  }

  /** Moves a session to a new connection (XEP-0198 resumption). */
  reattach(session: SessionRecord, edge: ShardId, connId: number): void {
    this.conns.delete(connKey(session.edge, session.connId));
    session.edge = edge;
    session.connId = connId;
    session.detached = false;
    this.conns.set(connKey(edge, connId), session);
  }

  ofUser(bare: string): SessionRecord[] {
    const resources = this.users.get(bare);
    return resources ? [...resources.values()] : [];
  }

  get(bare: string, resource: string): SessionRecord | undefined {
    return this.users.get(bare)?.get(resource);
  }

  byConnection(edge: ShardId, connId: number): SessionRecord | undefined {
    return this.conns.get(connKey(edge, connId));
  }

  all(): IterableIterator<SessionRecord> {
    return this.conns.values();
  }
}

function connKey(edge: ShardId, connId: number): string {
  return `${edge}:${connId}`;
}
