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

const MAX_FAILURES = 3;

export type SaslProfile = 'rfc6120' | 'sasl2';

export type SaslOutcome =
  /** Write `reply` (a challenge, a failure, or an RFC 6120 <success/>) and wait for the next element. */
  | { kind: 'reply'; reply: Element; tooManyFailures: boolean }
  /** Authenticated. For SASL2 the caller builds <success/> (binding, resumption, tokens go inside). */
  | { kind: 'success'; username: string; additionalData: Buffer | null; reply: Element | null };

export class SaslNegotiation {
  private readonly s: EdgeServices;
  private readonly encrypted: boolean;
  private readonly profile: SaslProfile;
  private mechanism: SaslMechanismServer | null = null;
  private failures = 0;
  /** One span per authentication exchange, from the first element to success or failure. */
  private span: Span | null = null;

  /** PLAIN only over TLS (RFC 6120 §13.8: never send a password in the clear). */
  static mechanisms(encrypted: boolean): string[] {
    return encrypted ? ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'] : ['SCRAM-SHA-256', 'SCRAM-SHA-1'];
  }

  constructor(services: EdgeServices, encrypted: boolean, profile: SaslProfile = 'rfc6120') {
    this.s = services;
    this.encrypted = encrypted;
    this.profile = profile;
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
      if (!SaslNegotiation.mechanisms(this.encrypted).includes(name)) return this.failure('invalid-mechanism');
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
    if (name === 'PLAIN') return createPlainServer(lookup, { domain });
    return createScramServer(name === 'SCRAM-SHA-1' ? 'SHA-1' : 'SHA-256', lookup, { secret: Buffer.from(this.s.secret, 'utf8'), domain });
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
      return { kind: 'success', username: step.username, additionalData: step.data, reply };
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
