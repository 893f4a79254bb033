// RFC 6120 §4.9 stream errors and §8.3 stanza errors as typed exceptions. Handlers throw them; the
// stream or the router turns them into XML, so no module builds error XML by hand.
import { NS } from './ns.ts';
import { type Element, xml } from './xml.ts';

export type StreamErrorCondition =
  | 'bad-format'
  | 'bad-namespace-prefix'
  | 'conflict'
  | 'connection-timeout'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'reset'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'see-other-host'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-encoding'
  | 'unsupported-feature'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

export class StreamError extends Error {
  readonly condition: StreamErrorCondition;
  readonly text: string | undefined;
  constructor(condition: StreamErrorCondition, text?: string) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StreamError';
    this.condition = condition;
    this.text = text;
  }
  toXml(): string {
    const text = this.text ? `<text xmlns='${NS.STREAMS}'>${escapeText(this.text)}</text>` : '';
    return `<stream:error><${this.condition} xmlns='${NS.STREAMS}'/>${text}</stream:error>`;
  }
}

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';
export type StanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'gone'
  | 'internal-server-error'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'policy-violation'
  | 'recipient-unavailable'
  | 'redirect'
  | 'registration-required'
  | 'remote-server-not-found'
  | 'remote-server-timeout'
  | 'resource-constraint'
  | 'service-unavailable'
  | 'subscription-required'
  | 'undefined-condition'
  | 'unexpected-request';

export class StanzaError extends Error {
  readonly type: StanzaErrorType;
  readonly condition: StanzaErrorCondition;
  readonly text: string | undefined;
  /** Extra application-specific condition element (e.g. XEP-0191 <blocked/>). */
  readonly appCondition: Element | undefined;
  constructor(type: StanzaErrorType, condition: StanzaErrorCondition, text?: string, appCondition?: Element) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StanzaError';
    this.type = type;
    this.condition = condition;
    this.text = text;
    this.appCondition = appCondition;
  }
  toElement(): Element {
    const err = xml('error', { type: this.type }, xml(this.condition, { xmlns: NS.STANZAS }));
    if (this.text) err.append(xml('text', { xmlns: NS.STANZAS }, this.text));
    if (this.appCondition) err.append(this.appCondition);
    return err;
  }
}

/**
 * RFC 6120 §8.3.1: an error reply swaps to/from, keeps id and type='error', and may include the
 * original payload. We include the original children (clients use them to match the failure).
 */
export function errorReply(stanza: Element, error: StanzaError): Element {
  const attrs: Record<string, string> = { type: 'error' };
  const { id, from, to } = stanza.attrs as Record<string, string | undefined>;
  if (id !== undefined) attrs.id = id;
  if (from !== undefined) attrs.to = from;
  if (to !== undefined) attrs.from = to;
  const reply = xml(stanza.name, attrs);
  if (stanza.name !== 'iq') for (const child of stanza.children) if (typeof child !== 'string') reply.append(child);
  if (stanza.name === 'iq') {
    const q = stanza.getChildElements()[0];
    if (q) reply.append(q);
  }
  reply.append(error.toElement());
  return reply;
}

function escapeText(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}
