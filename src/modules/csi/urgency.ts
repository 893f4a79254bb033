// Which stanzas an inactive client (XEP-0352) gets at once and which can wait until it is active again.
import type { Element } from '../../xmpp/xml.ts';

const CARBONS_NS = 'urn:xmpp:carbons:2';
const FORWARD_NS = 'urn:xmpp:forward:0';
/** XEP-0353 call proposals must ring the device now. */
const JINGLE_MESSAGE_NS = 'urn:xmpp:jingle-message:0';

/**
 * Urgent: every iq (someone waits for the answer), messages the user would want to see now (a body,
 * an error, a call, a XEP-0280 carbon of a sent message or of a received one with a body), and presence
 * other than plain availability (subscription requests and errors need the user).
 * Not urgent: availability updates, chat states, receipts and markers without a body, headlines
 * (PEP notifications and the like), which XEP-0352 §3.2 names as what a server may hold back.
 */
export function isUrgent(stanza: Element): boolean {
  const type = stanza.attrs.type as string | undefined;
  switch (stanza.name) {
    case 'iq':
      return true;
    case 'presence':
      return type !== undefined && type !== 'unavailable';
    case 'message':
      if (type === 'error') return true;
      if (type === 'headline') return false;
      return isUrgentMessage(stanza);
    default:
      return true;
  }
}

function isUrgentMessage(message: Element): boolean {
  if (message.getChild('body')) return true;
  if (message.getChild('propose', JINGLE_MESSAGE_NS)) return true;
  if (message.getChild('sent', CARBONS_NS)) return true;
  const inner = message.getChild('received', CARBONS_NS)?.getChild('forwarded', FORWARD_NS)?.getChild('message');
  return inner?.getChild('body') !== undefined;
}
