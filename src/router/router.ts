// Core routing (RFC 6120 §10, RFC 6121 §8): knows addresses, sessions and shards, and no XEP.
// Everything feature-specific happens in hooks and iq handlers registered by modules.
import type { SessionRecord, SessionTable } from '../shard/session-table.ts';
import type { Placement } from '../shard/placement.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ShardMetrics } from '../telemetry/metrics.ts';
import type { ShardId } from '../transport/channel.ts';
import { StanzaError, errorReply } from '../xmpp/errors.ts';
import { bareOf, type Jid, jid, tryParseJid } from '../xmpp/jid.ts';
import { stanzaText } from '../xmpp/ring-text.ts';
import { type Element, shallowCopy, xml } from '../xmpp/xml.ts';
import type { IqScope, ServiceDefinition } from './module.ts';
import type { Registry } from './registry.ts';

export interface RouterDeps {
  readonly shard: ShardId;
  readonly domain: string;
  readonly placement: Placement;
  readonly registry: Registry;
  readonly sessions: SessionTable;
  readonly log: Logger;
  readonly metrics: ShardMetrics;
  /** Sends a stanza over the mesh for delivery on `owner` (FrameKind.Route). */
  forward(owner: ShardId, stanza: Element): void;
  /** Sends one frame carrying a stanza and its recipients to `owner` (FrameKind.Fanout). */
  forwardFanout(owner: ShardId, stanza: Element, recipients: readonly string[]): void;
  /** Writes serialised XML to a connection, local or on another shard. */
  writeToConnection(edge: ShardId, connId: number, xml: string): void;
  closeConnection(edge: ShardId, connId: number, condition: string, text?: string): void;
}

type StanzaKind = 'message' | 'presence' | 'iq';

export class Router {
  private readonly d: RouterDeps;

  // Bound once per stanza kind: a plain increment per stanza (see Tally in telemetry/metrics.ts).
  private readonly countedIn = new Map<string, { n: number }>();
  private readonly countedOut = new Map<string, { n: number }>();

  constructor(deps: RouterDeps) {
    this.d = deps;
  }

  private count(cells: Map<string, { n: number }>, tally: ShardMetrics['stanzasInTally'], kind: string): void {
    let cell = cells.get(kind);
    if (!cell) {
      cell = tally.cell(kind);
      cells.set(kind, cell);
    }
    cell.n++;
  }

  /**
   * Delivers a stanza to whoever owns its `to`. `origin` is the local session that sent it, if any:
   * errors about it then go straight back to that session.
   */
  route(stanza: Element, origin?: SessionRecord): void {
    const to = tryParseJid(stanza.attrs.to as string | undefined);
    if (!to) {
      this.bounce(stanza, new StanzaError('modify', 'jid-malformed'), origin);
      return;
    }
    if (to.domain !== this.d.domain) {
      const service = this.d.registry.serviceFor(to.domain);
      if (service) {
        const owner = this.d.placement.shardOf(service.placementKey(to));
        if (owner === this.d.shard) void this.deliverToService(service, stanza, to);
        else this.d.forward(owner, stanza);
        return;
      }
      // No server-to-server yet: RFC 6120 §10.4.3 says remote-server-not-found when it cannot be reached.
      this.bounce(stanza, new StanzaError('cancel', 'remote-server-not-found'), origin);
      return;
    }
    if (!to.local) {
      void this.deliverToServer(stanza, to, origin);
      return;
    }
    const owner = this.d.placement.shardOf(bareOf(to));
    if (owner === this.d.shard) this.deliverInbound(stanza, to);
    else this.d.forward(owner, stanza);
  }

  /** A stanza sent by a client on a session whose home is this shard. */
  fromSession(session: SessionRecord, stanza: Element): void | Promise<void> {
    const kind = stanza.name as StanzaKind;
    stanza.attrs.from = session.full; // RFC 6120 §8.1.2.1: the server stamps the full JID
    const toText = stanza.attrs.to as string | undefined;
    const to = toText === undefined ? undefined : tryParseJid(toText);
    if (toText !== undefined && !to) return this.bounce(stanza, new StanzaError('modify', 'jid-malformed'), session);
    this.count(this.countedIn, this.d.metrics.stanzasInTally, kind);
    const outcome = this.d.registry.hooks.fire('stanza:outbound', { session, stanza, to });
    if (outcome instanceof Promise) {
      return outcome.then(
        (r) => (r === 'handled' ? undefined : this.afterOutbound(session, stanza, kind, to)),
        (err) => this.failed(stanza, err, session),
      );
    }
    if (outcome === 'handled') return;
    return this.afterOutbound(session, stanza, kind, to);
  }

  private afterOutbound(session: SessionRecord, stanza: Element, kind: StanzaKind, to: Jid | undefined): void | Promise<void> {
    if (kind === 'iq') {
      // RFC 6120 §10.3.3: an iq without 'to' is handled on behalf of the sender's account.
      const toOwnAccount = !to || (!to.resource && to.local === session.jid.local && to.domain === session.jid.domain);
      if (toOwnAccount) return this.handleIq(stanza, session.jid, bareJid(session.jid), 'account', session);
      if (to.domain === this.d.domain && !to.local && !to.resource) return this.handleIq(stanza, session.jid, to, 'server', session);
    }
    if (!to) {
      // RFC 6120 §10.3.1: a message without 'to' is treated as addressed to the sender's bare JID.
      // Presence without 'to' is broadcast, which the presence module does in stanza:outbound.
      if (kind === 'message') {
        stanza.attrs.to = session.bare;
        this.route(stanza, session);
      }
      return;
    }
    this.route(stanza, session);
  }

  /** A stanza routed to this shard over the mesh: for a hosted service's address or a local user. */
  deliverRouted(stanza: Element, to: Jid): void | Promise<void> {
    if (to.domain !== this.d.domain) {
      const service = this.d.registry.serviceFor(to.domain);
      if (service) return this.deliverToService(service, stanza, to);
      return this.bounce(stanza, new StanzaError('cancel', 'remote-server-not-found'));
    }
    return this.deliverInbound(stanza, to);
  }

  private deliverToService(service: ServiceDefinition, stanza: Element, to: Jid): void | Promise<void> {
    try {
      const r = service.deliver(stanza, to);
      if (r instanceof Promise) return r.catch((err: unknown) => this.failed(stanza, err));
    } catch (err) {
      this.failed(stanza, err);
    }
  }

  /**
   * One copy of `stanza` per recipient (local users' JIDs), `to` set per copy. Recipients are grouped by
   * home shard so each other shard gets one frame however many of its users receive the stanza.
   */
  fanout(stanza: Element, recipients: readonly string[]): void {
    let byShard: Map<ShardId, string[]> | undefined;
    for (const r of recipients) {
      const to = tryParseJid(r);
      if (!to || to.domain !== this.d.domain) continue;
      const owner = this.d.placement.shardOf(bareOf(to));
      if (owner === this.d.shard) {
        this.deliverCopy(stanza, r, to);
        continue;
      }
      byShard ??= new Map();
      const list = byShard.get(owner);
      if (list) list.push(r);
      else byShard.set(owner, [r]);
    }
    if (byShard) for (const [owner, list] of byShard) this.d.forwardFanout(owner, stanza, list);
  }

  /** The receiving end of a fan-out frame: one copy per local recipient. */
  deliverFanout(stanza: Element, recipients: readonly string[]): void {
    for (const r of recipients) {
      const to = tryParseJid(r);
      if (to && this.d.placement.shardOf(bareOf(to)) === this.d.shard) this.deliverCopy(stanza, r, to);
    }
  }

  private deliverCopy(stanza: Element, recipient: string, to: Jid): void {
    // A copy per recipient: hooks may keep the element (CSI queues, SM unacked queue, offline storage) and
    // add or remove children (stanza-ids, delay). The children themselves are shared, not copied: no hook
    // changes a child element in place (they replace it), and deep copies were ~3% of a room's fan-out CPU.
    const copy = shallowCopy(stanza);
    copy.attrs.to = recipient;
    const r = this.deliverInbound(copy, to);
    if (r instanceof Promise) r.catch((err: unknown) => this.d.log.error({ err, to: recipient }, 'fan-out delivery failed'));
  }

  /** A stanza for a local user arrived at its home shard (from this shard or over the mesh). */
  deliverInbound(stanza: Element, to: Jid): void | Promise<void> {
    const kind = stanza.name as StanzaKind;
    if (kind === 'iq') {
      if (!to.resource) {
        const go = () => this.handleIq(stanza, parseFrom(stanza), to, 'account', undefined);
        const r = this.d.registry.hooks.fire('iq:inbound-bare', { stanza, to });
        if (r instanceof Promise)
          return r.then(
            (x) => (x === 'handled' ? undefined : go()),
            (e) => this.failed(stanza, e),
          );
        return r === 'handled' ? undefined : go();
      }
      const r = this.d.registry.hooks.fire('iq:inbound-full', { stanza, to });
      if (r instanceof Promise)
        return r.then(
          (x) => (x === 'handled' ? undefined : this.deliverIqToResource(stanza, to)),
          (e) => this.failed(stanza, e),
        );
      if (r !== 'handled') this.deliverIqToResource(stanza, to);
      return;
    }
    const hook = kind === 'message' ? 'message:inbound' : 'presence:inbound';
    const r = this.d.registry.hooks.fire(hook, { stanza, to });
    if (r instanceof Promise) {
      return r.then(
        (x) => (x === 'handled' ? undefined : this.unhandled(stanza)),
        (e) => this.failed(stanza, e),
      );
    }
    if (r !== 'handled') this.unhandled(stanza);
  }

  private deliverIqToResource(stanza: Element, to: Jid): void {
    const session = this.d.sessions.get(bareOf(to), to.resource);
    if (session && !session.closed) this.sendToSession(session, stanza);
    // RFC 6121 §8.5.3.1: no such resource → service-unavailable for get/set, results are dropped.
    else if (stanza.attrs.type === 'get' || stanza.attrs.type === 'set')
      this.bounce(stanza, new StanzaError('cancel', 'service-unavailable'));
  }

  private unhandled(stanza: Element): void {
    if (stanza.name === 'message') this.bounce(stanza, new StanzaError('cancel', 'service-unavailable'));
  }

  /** Stanzas addressed to the server itself (its domain). */
  private deliverToServer(stanza: Element, to: Jid, session: SessionRecord | undefined): void | Promise<void> {
    if (stanza.name === 'iq') return this.handleIq(stanza, parseFrom(stanza), to, 'server', session);
    if (stanza.name === 'message' && stanza.attrs.type !== 'error') {
      this.bounce(stanza, new StanzaError('cancel', 'service-unavailable'), session);
    }
    // Presence to the server is accepted and ignored (RFC 6121 §4.3 probes of the domain have no answer).
  }

  handleIq(stanza: Element, from: Jid | undefined, to: Jid, scope: IqScope, session: SessionRecord | undefined): void | Promise<void> {
    const type = stanza.attrs.type as string | undefined;
    if (type === 'result' || type === 'error') return; // responses to server-originated iqs (pings) need no routing
    if (!from) return;
    if (type !== 'get' && type !== 'set')
      return this.bounce(stanza, new StanzaError('modify', 'bad-request', 'iq type must be get, set, result or error'));
    const children = stanza.getChildElements();
    const payload = children[0];
    // RFC 6120 §8.2.3: a get or set has exactly one child element.
    if (!payload || children.length !== 1)
      return this.bounce(stanza, new StanzaError('modify', 'bad-request', 'iq get/set needs exactly one payload'));
    const ns = payload.attrs.xmlns as string | undefined;
    const handler = ns === undefined ? undefined : this.d.registry.iqHandler(type, scope, ns, payload.name);
    if (!handler) return this.bounce(stanza, new StanzaError('cancel', 'service-unavailable'));
    const reply = (result: Element | undefined): void => {
      const attrs: Record<string, string> = { type: 'result', id: String(stanza.attrs.id ?? ''), to: String(stanza.attrs.from) };
      if (stanza.attrs.to !== undefined) attrs.from = String(stanza.attrs.to);
      const iq = result ? xml('iq', attrs, result) : xml('iq', attrs);
      if (session && !session.closed) this.sendToSession(session, iq);
      else this.route(iq);
    };
    try {
      const result = handler({ stanza, type, payload, from, to, scope, session });
      if (result instanceof Promise) return result.then(reply, (err) => this.failed(stanza, err, session));
      reply(result);
    } catch (err) {
      this.failed(stanza, err, session);
    }
  }

  /** Writes to one session, through session:deliver (CSI may hold the stanza back). */
  sendToSession(session: SessionRecord, stanza: Element): void {
    if (this.d.registry.hooks.has('session:deliver')) {
      const r = this.d.registry.hooks.fire('session:deliver', { session, stanza });
      if (r === 'handled') return;
      if (r instanceof Promise) {
        r.then(
          (x) => {
            if (x !== 'handled') this.writeToSession(session, stanza);
          },
          (e) => this.d.log.error({ err: e }, 'session:deliver failed'),
        );
        return;
      }
    }
    this.writeToSession(session, stanza);
  }

  writeToSession(session: SessionRecord, stanza: Element): void {
    if (session.closed) return;
    if (this.d.registry.hooks.has('session:write') && this.d.registry.hooks.fire('session:write', { session, stanza }) === 'handled')
      return;
    if (session.detached) return;
    this.count(this.countedOut, this.d.metrics.stanzasOutTally, stanza.name);
    this.d.writeToConnection(session.edge, session.connId, stanzaText(stanza));
  }

  /** Writes serialised XML as is (no hooks, not a stanza): SASL2 success and stream features. */
  writeRaw(session: SessionRecord, xml: string): void {
    if (!session.closed && !session.detached) this.d.writeToConnection(session.edge, session.connId, xml);
  }

  closeSession(session: SessionRecord, condition: string, text?: string): void {
    this.d.closeConnection(session.edge, session.connId, condition, text);
  }

  /** Sends an error reply for `stanza` to its sender, never answering an error with an error. */
  bounce(stanza: Element, error: StanzaError, session?: SessionRecord): void {
    if (stanza.attrs.type === 'error' || stanza.attrs.from === undefined) return;
    const reply = errorReply(stanza, error);
    if (session && !session.closed) this.sendToSession(session, reply);
    else this.route(reply);
  }

  private failed(stanza: Element, err: unknown, session?: SessionRecord): void {
    if (err instanceof StanzaError) {
      this.bounce(stanza, err, session);
      return;
    }
    this.d.log.error({ err, stanza: stanza.name, from: stanza.attrs.from }, 'handler failed');
    this.bounce(stanza, new StanzaError('cancel', 'internal-server-error'), session);
  }
}

function parseFrom(stanza: Element): Jid | undefined {
  return tryParseJid(stanza.attrs.from as string | undefined);
}

function bareJid(j: Jid): Jid {
  return j.resource ? jid(j.local, j.domain) : j;
}
