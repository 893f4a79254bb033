// The home side of sessions: binding resources (RFC 6120 §7), replacing a conflicting older session,
// taking stanzas forwarded by edges, and unbinding when a connection goes away.
import type { HookBus } from '../router/hooks.ts';
import type { Router } from '../router/router.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ShardMetrics } from '../telemetry/metrics.ts';
import type { ShardId } from '../transport/channel.ts';
import { StreamError } from '../xmpp/errors.ts';
import { type Jid, JidError, parseJid } from '../xmpp/jid.ts';
import { createHash } from 'node:crypto';
import { postAuthFeatures, sasl2Success, type Sasl2SuccessParts } from '../xmpp/sasl2-success.ts';
import { NS } from '../xmpp/ns.ts';
import { parseElement } from '../xmpp/stream-parser.ts';
import { type Element, xml } from '../xmpp/xml.ts';
import { SerialQueue } from './serial-queue.ts';
import type { SessionRecord, SessionTable } from './session-table.ts';

export interface BindRequest {
  bare: string;
  resource: string | null;
  edge: ShardId;
  connId: number;
  /** XEP-0386 Bind2 inside a SASL2 authentication: the home writes the <success/> itself. */
  bind2?: { tag: string | null; userAgentId: string | null; inline: string[]; success: Sasl2SuccessParts };
}

export type BindAnswer = { ok: true; full: string; home: ShardId } | { ok: false; condition: string };

const STANZAS = new Set(['message', 'presence', 'iq']);

/** XEP-0386: the client's tag plus a part stable per user agent, so a reconnecting device gets its resource back. */
function bind2Resource(tag: string | null, userAgentId: string | null): string {
  const prefix = (tag ?? '').replace(/[^\p{L}\p{N}._-]/gu, '').slice(0, 32) || 'waddle';
  const suffix = userAgentId ? createHash('sha256').update(userAgentId).digest('hex').slice(0, 8) : crypto.randomUUID().slice(0, 8);
  return `${prefix}.${suffix}`;
}

export class HomeSessions {
  private readonly shard: ShardId;
  private readonly sessions: SessionTable;
  private readonly hooks: HookBus;
  private readonly router: Router;
  private readonly log: Logger;
  private readonly metrics: ShardMetrics;
  private readonly features: () => Element[];

  constructor(d: {
    shard: ShardId;
    sessions: SessionTable;
    hooks: HookBus;
    router: Router;
    log: Logger;
    metrics: ShardMetrics;
    /** The post-authentication stream features (for SASL2, which has no stream restart). */
    features: () => Element[];
  }) {
    this.features = d.features;
    this.shard = d.shard;
    this.sessions = d.sessions;
    this.hooks = d.hooks;
    this.router = d.router;
    this.log = d.log;
    this.metrics = d.metrics;
  }

  async bind(req: BindRequest): Promise<BindAnswer> {
    const resource = req.bind2
      ? bind2Resource(req.bind2.tag, req.bind2.userAgentId)
      : req.resource?.trim()
        ? req.resource
        : `waddle-${crypto.randomUUID().slice(0, 8)}`;
    let jid: Jid;
    try {
      jid = parseJid(`${req.bare}/${resource}`);
    } catch (err) {
      if (err instanceof JidError) return { ok: false, condition: 'bad-request' };
      throw err;
    }
    const full = `${req.bare}/${jid.resource}`;
    const older = this.sessions.get(req.bare, jid.resource);
    if (older) {
      // RFC 6120 §7.7.2.2: we let the new session in and end the old one with a <conflict/> stream error.
      this.router.closeSession(older, 'conflict', 'replaced by a new connection');
      await this.unbind(older, 'conflict');
    }
    const session: SessionRecord = {
      jid,
      bare: req.bare,
      full,
      edge: req.edge,
      connId: req.connId,
      boundAt: Date.now(),
      queue: new SerialQueue((err) => this.log.error({ err, jid: full }, 'session task failed')),
      detached: false,
      available: false,
      priority: 0,
      presence: null,
      interested: false,
      directedTo: new Set(),
      closed: false,
    };
    this.sessions.add(session);
    this.metrics.sessions.inc();
    await this.hooks.fire('session:bound', { session });
    if (req.bind2) await this.finishBind2(session, req.bind2);
    return { ok: true, full, home: this.shard };
  }

  /**
   * XEP-0386 §…: runs the inline requests (e.g. XEP-0198 <enable/>, XEP-0280 <enable/>), then writes the
   * SASL2 <success/> with <bound/> and the remaining stream features, before anything else reaches the
   * session, so the client sees them in that order.
   */
  private async finishBind2(session: SessionRecord, bind2: NonNullable<BindRequest['bind2']>): Promise<void> {
    const results: Element[] = [];
    const enabled = new Set<string>();
    for (const text of bind2.inline) {
      await this.hooks.fire('session:bind2-inline', { session, element: parseElement(text), results, enabled });
    }
    const bound = xml('bound', { xmlns: NS.BIND2 }, ...results);
    this.router.writeRaw(session, sasl2Success(bind2.success, session.full, [bound]) + postAuthFeatures(this.features(), true, enabled));
  }

  /** A stanza or nonza from a bound connection, in the session's arrival order. */
  fromConnection(edge: ShardId, connId: number, element: Element): void {
    const session = this.sessions.byConnection(edge, connId);
    if (!session || session.closed) return; // the session ended while this was in flight
    session.queue.call(this.handleReceived, session, element);
  }

  /** One element of a session, its turn come (an arrow: passed to the queue without binding). */
  private readonly handleReceived = (session: SessionRecord, element: Element): void | Promise<void> => {
    if (session.closed) return;
    this.hooks.fire('session:received', { session, element });
    if (STANZAS.has(element.name)) return this.router.fromSession(session, element);
    const handled = this.hooks.fire('session:nonza', { session, element });
    const unsupported = (r: unknown) => {
      if (r !== 'handled') this.router.closeSession(session, new StreamError('unsupported-stanza-type').condition);
    };
    if (handled instanceof Promise) return handled.then(unsupported);
    unsupported(handled);
  };

  /**
   * A connection went away. A module may keep the session for resumption (XEP-0198) by answering
   * 'session:connection-lost' with 'handled'; otherwise the session ends.
   */
  connectionEnded(edge: ShardId, connId: number, clean: boolean): void {
    const session = this.sessions.byConnection(edge, connId);
    if (!session || session.detached) return;
    session.queue.push(async () => {
      if (session.closed || session.edge !== edge || session.connId !== connId) return; // resumed elsewhere meanwhile
      const kept = await this.hooks.fire('session:connection-lost', { session, clean });
      if (kept === 'handled') session.detached = true;
      else await this.unbind(session, clean ? 'closed' : 'disconnected');
    });
  }

  /** Every connection on `edge` is gone (that shard crashed): as if each had dropped. */
  edgeLost(edge: ShardId): void {
    for (const session of [...this.sessions.all()]) {
      if (session.edge === edge) this.connectionEnded(edge, session.connId, false);
    }
  }

  reattach(session: SessionRecord, edge: ShardId, connId: number): void {
    this.sessions.reattach(session, edge, connId);
  }

  async unbind(session: SessionRecord, reason: string): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    this.sessions.remove(session);
    this.metrics.sessions.dec();
    try {
      await this.hooks.fire('session:unbound', { session, reason });
    } finally {
      this.log.info({ jid: session.full, reason }, 'session unbound');
    }
  }
}
