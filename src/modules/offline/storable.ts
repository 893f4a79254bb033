// Which messages deserve offline storage (XEP-0160 §3, XEP-0334 hints, XEP-0085 §5.6). Pure.
import type { Element } from '../../xmpp/xml.ts';

export const HINTS_NS = 'urn:xmpp:hints';
export const CHATSTATES_NS = 'http://jabber.org/protocol/chatstates';

/**
 * - 'store': keep it for the next session;
 * - 'drop': nothing worth keeping and nothing worth an error (a standalone chat state);
 * - 'refuse': not stored, and the sender should learn it was not delivered (router bounces it).
 */
export type StorageDecision = 'store' | 'drop' | 'refuse';

export function storageDecision(stanza: Element): StorageDecision {
  const type = (stanza.attrs.type as string | undefined) ?? 'normal';
  // XEP-0160 §3: normal and chat SHOULD be stored; groupchat, headline and error SHOULD NOT.
  // (The messaging module never hands those three to the Fallback; this is defence in depth.)
  if (type !== 'normal' && type !== 'chat') return 'refuse';
  // XEP-0334 §4 <no-store/>: not to be stored, "either permanently or temporarily, e.g. for later
  // delivery to an offline client". It wins over <store/>.
  if (stanza.getChild('no-store', HINTS_NS)) return 'refuse';
  // XEP-0334 §4 <store/>: a non-error message carrying it SHOULD be stored even if it looks ephemeral.
  if (stanza.getChild('store', HINTS_NS)) return 'store';
  return hasLastingContent(stanza) ? 'store' : 'drop';
}

/**
 * True when the message carries something other than a chat state, a thread id or hints.
 * XEP-0160 §3 and XEP-0085 §5.6: messages with only chat-state content SHOULD NOT be stored offline.
 * Anything else (a body, a XEP-0184 receipt, an encrypted payload, a XEP-0333 marker) is kept.
 */
function hasLastingContent(stanza: Element): boolean {
  for (const child of stanza.getChildElements()) {
    const ns = child.getNS();
    if (ns === CHATSTATES_NS || ns === HINTS_NS) continue;
    if (child.name === 'thread') continue;
    return true;
  }
  return false;
}
