// RFC 6121 §8.5: which of a local user's sessions receive a message. Pure functions over session
// state (no I/O), so the rules can be read and tested apart from routing.
import type { SessionRecord } from '../../router/module.ts';
import type { Element } from '../../xmpp/xml.ts';

export type MessageType = 'normal' | 'chat' | 'groupchat' | 'headline' | 'error';

const KNOWN: ReadonlySet<string> = new Set(['normal', 'chat', 'groupchat', 'headline', 'error']);

/** RFC 6121 §5.2.2: no 'type', or a type the server does not understand, means "normal". */
export function messageType(stanza: Element): MessageType {
  const t = stanza.attrs.type as string | undefined;
  return t !== undefined && KNOWN.has(t) ? (t as MessageType) : 'normal';
}

/**
 * RFC 6121 §8.5.2.1.1: available resources with a non-negative priority. A negative priority means
 * "never send me messages addressed to the bare JID" (for any message type), and a resource that is
 * connected but has not sent initial presence is not available (RFC 6121 §4.2).
 */
export function nonNegativeAvailable(sessions: readonly SessionRecord[]): SessionRecord[] {
  return sessions.filter((s) => s.available && !s.closed && s.priority >= 0);
}

/**
 * RFC 6121 §8.5.2.1.1 lets a server deliver normal and chat messages either to the "most available"
 * resource(s) or to every non-negative resource. We take option (a) with the highest priority as
 * "most available", and all resources tied at that priority (as Prosody's top_resources does):
 * priority then means what users expect ("this device gets my messages"), and XEP-0280 carbons,
 * when loaded, copy messages to the other resources anyway.
 */
export function mostAvailable(candidates: readonly SessionRecord[]): SessionRecord[] {
  let top = Number.NEGATIVE_INFINITY;
  for (const s of candidates) if (s.priority > top) top = s.priority;
  return candidates.filter((s) => s.priority === top);
}
