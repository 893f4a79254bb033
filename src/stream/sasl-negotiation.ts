// The SASL exchange on the edge, in both profiles: RFC 6120 §6.4 (<auth/>, <challenge/>, <response/>,
// <success/>, <failure/> in urn:ietf:params:xml:ns:xmpp-sasl) and XEP-0388 SASL2 (<authenticate/> with
// <initial-response/>, the same steps in urn:xmpp:sasl:2, and a <success/> the caller completes with
// binding or resumption). The mechanisms (src/stream/sasl/) only see bytes; credentials come from the
// account's home shard over an rpc, so the edge never opens a user database.
import { getTracer, type Span } from '../telemetry/tracing.ts';
import { NS } from '../xmpp/ns.ts';
import { type Element, xml } from '../xmpp/xml.ts';
import type { EdgeServices } from './edge-services.ts';
import type { StoredCredentials } from './sasl/credentials.ts';
import { createPlainServer } from './sasl/plain.ts';
import { createScramServer, type SaslMechanismServer, type SaslStep } from './sasl/scram.ts';
import type { ChannelBindingType } from './sasl/channel-binding.ts';
import { createHtServer, type HtMechanism, type HtMechanismServer, isHtMechanism } from './sasl/ht.ts';
import type { FastToken } from '../storage/ports.ts';

const MAX_FAILURES = 3;

export type SaslProfile = 'rfc6120' | 'sasl2';

export type SaslOutcome =
  /** Write `reply` (a challenge, a failure, or an RFC 6120 <success/>) and wait for the next element. */
  | { kind: 'reply'; reply: Element; tooManyFailures: boolean }
  /**
   * Authenticated. For SASL2 the caller builds <success/> (binding, resumption, tokens go inside).
   * `fastToken` is the XEP-0484 token an HT mechanism was proven with.
   */
  | { kind: 'success'; username: string; additionalData: Buffer | null; reply: Element | null; fastToken: FastToken | undefined };

/** The TLS channel of this connection, for SCRAM-*-PLUS (XEP-0440) and HT-*-EXPR/ENDP (XEP-0484). */
export interface ChannelBinding {
  types: readonly ChannelBindingType[];
  data(type: ChannelBindingType): Buffer | null;
}

export interface SaslOptions {
  encrypted: boolean;
  profile: SaslProfile;
  channelBinding: ChannelBinding | null;
  /** XEP-0484 FAST is available (the fast module is loaded); HT mechanisms then work inside SASL2. */
  fast: boolean;
}

/**
 * Mechanisms offered, strongest first: channel-bound SCRAM when the channel allows it (XEP-0440), SCRAM,
 * and PLAIN only over TLS (RFC 6120 §13.8: never send a password in the clear).
 */
export function offeredMechanisms(encrypted: boolean, channelBinding: ChannelBinding | null): string[] {
  const plus = encrypted && channelBinding && channelBinding.types.length > 0 ? ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS'] : [];
  return [...plus, 'SCRAM-SHA-256', 'SCRAM-SHA-1', ...(encrypted ? ['PLAIN'] : [])];
}

/** XEP-0484 §…: HT mechanisms this channel supports (EXPR needs tls-exporter, ENDP tls-server-end-point). */
export function fastMechanisms(channelBinding: ChannelBinding | null): HtMechanism[] {
  const types = channelBinding?.types ?? [];
  return [
    ...(types.includes('tls-exporter') ? (['HT-SHA-256-EXPR'] as const) : []),
    ...(types.includes('tls-server-end-point') ? (['HT-SHA-256-ENDP'] as const) : []),
    'HT-SHA-256-NONE',
  ];
}

export class SaslNegotiation {
  private readonly s: EdgeServices;
  private readonly o: SaslOptions;
  private readonly profile: SaslProfile;
  private mechanism: SaslMechanismServer | null = null;
  private ht: HtMechanismServer<FastToken> | null = null;
  private failures = 0;
  /** One span per authentication exchange, from the first element to success or failure. */
  private span: Span | null = null;

  constructor(services: EdgeServices, options: SaslOptions) {
    this.s = services;
    this.o = options;
    this.profile = options.profile;
  }

  /** What a client may pick in this request: HT only inside SASL2 with <fast/> (XEP-0484 §3.3). */
  private allowed(el: Element): string[] {
    const offered = offeredMechanisms(this.o.encrypted, this.o.channelBinding);
    if (this.profile === 'sasl2' && this.o.fast && el.getChild('fast', NS.FAST))
      return [...offered, ...fastMechanisms(this.o.channelBinding)];
    return offered;
  }

  private get ns(): string {
    return this.profile === 'sasl2' ? NS.SASL2 : NS.SASL;
  }

  async handle(el: Element): Promise<SaslOutcome> {
    if (el.name === 'abort') {
      this.mechanism = null;
      return this.failure('aborted');
    }
    if (el.name === (this.profile === 'sasl2' ? 'authenticate' : 'auth')) {
      const name = String(el.attrs.mechanism ?? '');
      if (!this.allowed(el).includes(name)) return this.failure('invalid-mechanism');
      this.mechanism = this.create(name);
      this.span?.end();
      this.span = getTracer().startSpan('xmpp.sasl.auth', {
        attributes: { 'sasl.mechanism': name, 'sasl.profile': this.profile, 'xmpp.shard': this.s.shard },
      });
      // SASL2 carries the initial response in a child; its absence means none (XEP-0388 §2.3).
      const text = this.profile === 'sasl2' ? el.getChildText('initial-response') : el.text();
      const initial = text === null ? null : decode(text);
      if (initial === 'bad') return this.failure('incorrect-encoding');
      return this.outcome(await this.mechanism.start(initial), name);
    }
    if (el.name === 'response' && this.mechanism) {
      const data = decode(el.text());
      if (data === 'bad') return this.failure('incorrect-encoding');
      return this.outcome(await this.mechanism.step(data ?? Buffer.alloc(0)), this.mechanism.name);
    }
    return this.failure('malformed-request');
  }

  private create(name: string): SaslMechanismServer {
    const lookup = (username: string) => this.lookup(username);
    const domain = this.s.config.domain;
    const cb = this.o.channelBinding;
    this.ht = null;
    if (name === 'PLAIN') return createPlainServer(lookup, { domain });
    if (isHtMechanism(name)) {
      this.ht = createHtServer<FastToken>(name, (username) => this.tokens(username), cb ? { channelBinding: (t) => cb.data(t) } : {});
      return this.ht;
    }
    const plus = name.endsWith('-PLUS');
    return createScramServer(name.startsWith('SCRAM-SHA-1') ? 'SHA-1' : 'SHA-256', lookup, {
      secret: Buffer.from(this.s.secret, 'utf8'),
      domain,
      plus,
      // Not a downgrade signal here: we offer tls-exporter and tls-server-end-point only, so a client that
      // knows just tls-unique (slixmpp 1.8, many older clients) rightly sends 'y' (XEP-0440 §4: a client
      // supporting none of the advertised types treats the server as not supporting channel binding).
      plusAdvertised: false,
      ...(cb ? { channelBinding: (t: ChannelBindingType) => cb.data(t) } : {}),
    });
  }

  private async tokens(username: string): Promise<FastToken[]> {
    const bare = `${username}@${this.s.config.domain}`;
    return (await this.s.call(bare, 'fast.valid', { jid: bare })) as FastToken[];
  }

  private async lookup(username: string): Promise<StoredCredentials | undefined> {
    const bare = `${username}@${this.s.config.domain}`;
    const creds = (await this.s.call(bare, 'auth.credentials', { jid: bare })) as StoredCredentials | null;
    return creds ?? undefined;
  }

  private outcome(step: SaslStep, mechanism: string): SaslOutcome {
    if (step.kind === 'challenge') {
      return { kind: 'reply', reply: xml('challenge', { xmlns: this.ns }, step.data.toString('base64')), tooManyFailures: false };
    }
    if (step.kind === 'success') {
      this.mechanism = null;
      this.s.metrics.authAttempts.inc({ mechanism, result: 'success' });
      this.endSpan('success', step.username);
      const reply = this.profile === 'sasl2' ? null : xml('success', { xmlns: NS.SASL }, step.data ? step.data.toString('base64') : '');
      return { kind: 'success', username: step.username, additionalData: step.data, reply, fastToken: this.ht?.matched };
    }
    this.s.metrics.authAttempts.inc({ mechanism, result: 'failure' });
    this.endSpan(step.condition);
    return this.failure(step.condition, step.text);
  }

  private endSpan(result: string, username?: string): void {
    if (!this.span) return;
    this.span.setAttribute('sasl.result', result);
    if (username) this.span.setAttribute('xmpp.jid', `${username}@${this.s.config.domain}`);
    this.span.end();
    this.span = null;
  }

  private failure(condition: string, text?: string): SaslOutcome {
    this.mechanism = null;
    if (condition !== 'aborted') this.failures++;
    // XEP-0388 §2.6.2: SASL2 failures carry the RFC 6120 condition in the RFC 6120 namespace.
    const reply =
      this.profile === 'sasl2'
        ? xml('failure', { xmlns: NS.SASL2 }, xml(condition, { xmlns: NS.SASL }))
        : xml('failure', { xmlns: NS.SASL }, xml(condition));
    if (text) reply.append(xml('text', {}, text));
    return { kind: 'reply', reply, tooManyFailures: this.failures >= MAX_FAILURES };
  }
}

/** RFC 6120 §6.4.2: '=' is an empty initial response, no text is no initial response. */
function decode(text: string): Buffer | null | 'bad' {
  const t = text.trim();
  if (t === '') return null;
  if (t === '=') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) return 'bad';
  return Buffer.from(t, 'base64');
}
