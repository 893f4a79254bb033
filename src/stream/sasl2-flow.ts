// XEP-0388 SASL2 on the edge: the exchange itself (SaslNegotiation in its 'sasl2' profile), then what
// the <authenticate/> asked for inline: XEP-0484 FAST token, XEP-0198 resumption, XEP-0386 Bind2.
// Binding and resumption happen on the session's home shard, which also writes the <success/> so that
// it reaches the client before anything the session produces.
import { StreamError } from '../xmpp/errors.ts';
import { normalizeLocal } from '../xmpp/jid.ts';
import { NS } from '../xmpp/ns.ts';
import { type Element, escapeXml, xml } from '../xmpp/xml.ts';
import type { BindResult, EdgeServices } from './edge-services.ts';
import { type ChannelBinding, fastMechanisms, offeredMechanisms, SaslNegotiation } from './sasl-negotiation.ts';
import { isHtMechanism } from './sasl/ht.ts';
import type { FastToken } from '../storage/ports.ts';
import { postAuthFeatures, sasl2Success, type Sasl2SuccessParts } from '../xmpp/sasl2-success.ts';

export interface Sasl2Host {
  readonly id: number;
  readonly closing: boolean;
  write(text: string): void;
  fail(err: StreamError): void;
  /** Holds the client's next elements until binding or resumption is settled (see C2sConnection.held). */
  hold(): void;
  release(): void;
  /** Authenticated; bound (or resumed) when `bound` is set, else the client binds next. */
  authenticated(username: string, bound: BindResult | null): void;
}

type BindAnswer = { ok: true; full: string; home: number } | { ok: false; condition: string };
type ResumeAnswer = { ok: true; full: string; home: number } | { ok: false; h: number | null; condition: string };

/** The <authentication/> stream feature: mechanisms and what may be requested inline. */
export function sasl2Feature(s: EdgeServices, encrypted: boolean, cb: ChannelBinding | null): Element {
  const inline = xml('inline');
  const bind = xml('bind', { xmlns: NS.BIND2 });
  const features = s.bind2Features();
  if (features.length > 0) bind.append(xml('inline', {}, ...features.map((v) => xml('feature', { var: v }))));
  inline.append(bind);
  if (s.hasRpc('sm.resume')) inline.append(xml('sm', { xmlns: NS.SM }));
  // XEP-0484: tokens only over TLS, where a token cannot be read off the wire and replayed.
  if (encrypted && s.hasRpc('fast.valid'))
    inline.append(xml('fast', { xmlns: NS.FAST }, ...fastMechanisms(cb).map((m) => xml('mechanism', {}, m))));
  return xml('authentication', { xmlns: NS.SASL2 }, ...offeredMechanisms(encrypted, cb).map((m) => xml('mechanism', {}, m)), inline);
}

export class Sasl2Flow {
  private readonly s: EdgeServices;
  private readonly host: Sasl2Host;
  private readonly negotiation: SaslNegotiation;
  private request: Element | null = null;

  private readonly encrypted: boolean;

  constructor(services: EdgeServices, host: Sasl2Host, o: { encrypted: boolean; channelBinding: ChannelBinding | null }) {
    this.s = services;
    this.host = host;
    this.encrypted = o.encrypted;
    const fast = o.encrypted && services.hasRpc('fast.valid');
    this.negotiation = new SaslNegotiation(services, { encrypted: o.encrypted, profile: 'sasl2', channelBinding: o.channelBinding, fast });
  }

  async handle(el: Element): Promise<void> {
    if (el.name === 'authenticate') this.request = el;
    const outcome = await this.negotiation.handle(el);
    if (this.host.closing) return;
    if (outcome.kind === 'reply') {
      this.host.write(outcome.reply.toString());
      if (outcome.tooManyFailures) this.host.fail(new StreamError('policy-violation', 'too many failed authentication attempts'));
      return;
    }
    await this.succeed(outcome.username, outcome.additionalData, outcome.fastToken);
  }

  private async succeed(username: string, data: Buffer | null, usedToken: FastToken | undefined): Promise<void> {
    this.host.hold();
    const request = this.request as Element;
    const bare = `${normalizeLocal(username)}@${this.s.config.domain}`;
    const parts: Sasl2SuccessParts = { additionalData: data && data.length > 0 ? data.toString('base64') : null, extras: [] };
    const common = { bare, edge: this.s.shard, connId: this.host.id };
    const token = await this.fastToken(bare, request, usedToken);
    if (token) parts.extras.push(token);

    const resume = request.getChild('resume', NS.SM);
    if (resume && this.s.hasRpc('sm.resume')) {
      const previd = String(resume.attrs.previd ?? '');
      const h = Number(resume.attrs.h ?? Number.NaN);
      const answer = (await this.s.call(bare, 'sm.resume', { ...common, previd, h, sasl2: parts })) as ResumeAnswer;
      if (answer.ok) return this.done(username, { full: answer.full, home: answer.home });
      // XEP-0198 §…: a failed inline resumption is reported inside <success/>; binding may follow.
      const hAttr = answer.h === null ? '' : ` h='${answer.h}'`;
      parts.extras.push(`<failed xmlns='${NS.SM}'${hAttr}><${answer.condition} xmlns='${NS.STANZAS}'/></failed>`);
    }

    const bind = request.getChild('bind', NS.BIND2);
    if (bind) {
      const inline = bind
        .getChildElements()
        .filter((c) => c.name !== 'tag')
        .map(String);
      const userAgentId = (request.getChild('user-agent')?.attrs.id as string | undefined) ?? null;
      const answer = (await this.s.call(bare, 'session.bind', {
        ...common,
        resource: null,
        bind2: { tag: bind.getChildText('tag'), userAgentId, inline, success: parts },
      })) as BindAnswer;
      if (answer.ok) return this.done(username, { full: answer.full, home: answer.home });
      this.host.write(`<failure xmlns='${NS.SASL2}'><${escapeXml(answer.condition)} xmlns='${NS.SASL}'/></failure>`);
      this.host.release();
      return;
    }
    // Authenticated without binding: the client binds next, on the same stream (no restart).
    this.host.write(sasl2Success(parts, bare) + postAuthFeatures(this.s.streamFeatures(), false, new Set()));
    this.done(username, null);
  }

  /**
   * XEP-0484 §3: a token used to log in is marked used (which retires the older one); a new token is
   * issued when the client asks (<request-token/>) or the used one is due for rotation; <fast
   * invalidate='true'/> revokes this client's tokens. Tokens are bound to the user agent id.
   */
  private async fastToken(bare: string, request: Element, used: FastToken | undefined): Promise<string | null> {
    if (!this.encrypted || !this.s.hasRpc('fast.valid')) return null;
    const userAgentId = (request.getChild('user-agent')?.attrs.id as string | undefined) ?? null;
    const fast = request.getChild('fast', NS.FAST);
    if (fast && (fast.attrs.invalidate === 'true' || fast.attrs.invalidate === '1')) {
      await this.s.call(bare, 'fast.revoke', userAgentId ? { jid: bare, userAgentId } : { jid: bare });
    }
    let mechanism = (request.getChild('request-token', NS.FAST)?.attrs.mechanism as string | undefined) ?? null;
    if (used) {
      const { rotate } = (await this.s.call(bare, 'fast.used', { jid: bare, userAgentId: used.userAgentId, token: used.token })) as {
        rotate: boolean;
      };
      if (rotate && mechanism === null) mechanism = used.mechanism;
    }
    // No user agent id, no token: XEP-0484 binds each token to one client instance.
    if (mechanism === null || userAgentId === null || !isHtMechanism(mechanism)) return null;
    const issued = (await this.s.call(bare, 'fast.issue', { jid: bare, userAgentId, mechanism })) as FastToken;
    return `<token xmlns='${NS.FAST}' expiry='${new Date(issued.expiresAt).toISOString()}' token='${escapeXml(issued.token)}'/>`;
  }

  private done(username: string, bound: BindResult | null): void {
    if (this.host.closing) {
      if (bound) this.s.sessionEnd(bound.home, this.host.id, false);
      return;
    }
    this.host.authenticated(username, bound);
  }
}
