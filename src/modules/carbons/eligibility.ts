// XEP-0280 §6 "Messages Eligible for Carbons Delivery" (the urn:xmpp:carbons:rules:0 set), plus the
// opt-outs of §9 (<private/>) and XEP-0334 §4 (<no-copy/>). Pure: decides on the stanza alone.
import type { Element } from '../../xmpp/xml.ts';
import { CARBONS_NS, type CarbonDirection, hasPrivate, isCarbon } from './codec.ts';

export type CarbonDecision =
  /** Eligible: copy it to the user's other Carbons-enabled resources. */
  | 'copy'
  /** §9: the sender asked for no copies with <private xmlns='urn:xmpp:carbons:2'/>. */
  | 'private'
  /** XEP-0334 §4: <no-copy/> "the message should not be copied to any other entities/resources". */
  | 'no-copy'
  /** Already a <sent/> or <received/> wrapper: never a carbon of a carbon. */
  | 'carbon'
  /** §6: "A <message/> of type groupchat MUST NOT be carbon-copied." */
  | 'groupchat'
  /** §6: a private message from a MUC participant SHOULD NOT be copied (the room already does it). */
  | 'muc-pm'
  /** None of the §6 criteria: not instant messaging (headline, error, normal without IM content). */
  | 'not-im';

const MUC_USER_NS = 'http://jabber.org/protocol/muc#user';

/**
 * §6: payloads "typically used in IM" that make a message eligible even without a body: XEP-0085
 * chat states, XEP-0184 receipts, XEP-0333 chat markers, and XEP-0249 direct MUC invitations.
 */
const IM_PAYLOAD_NS: ReadonlySet<string> = new Set([
  'http://jabber.org/protocol/chatstates',
  'urn:xmpp:receipts',
  'urn:xmpp:chat-markers:0',
  'jabber:x:conference',
]);

/**
 * Whether `stanza` is copied, and if not, why.
 * @param direction 'sent' for a message a user's session sends, 'received' for one delivered to the user.
 * @param toFullJid the message is addressed to a full JID (told apart for MUC private messages).
 */
export function carbonDecision(stanza: Element, direction: CarbonDirection, toFullJid: boolean): CarbonDecision {
  if (hasPrivate(stanza)) return 'private';
  if (stanza.getChild('no-copy', CARBONS_NS.HINTS)) return 'no-copy';
  if (isCarbon(stanza)) return 'carbon';
  const type = messageType(stanza);
  if (type === 'groupchat') return 'groupchat';
  // §6 lists errors "sent in response to a <message/> that was eligible", and notes that this needs
  // message tracking on the server, "unlikely to be generally appropriate": we do not track, so no
  // error is copied. Headlines are for notifications, not IM (RFC 6121 §5.2.2).
  if (type === 'error' || type === 'headline') return 'not-im';
  const mucUser = stanza.getChild('x', MUC_USER_NS);
  // §6: a mediated invitation (XEP-0045 §7.8.2: <x xmlns='…muc#user'><invite/>) SHOULD be copied.
  if (mucUser?.getChild('invite')) return 'copy';
  // §6: a private message from a MUC participant (to a full JID) SHOULD NOT be copied, since the room
  // already sends it to every joined client. Rooms SHOULD mark PMs with the muc#user <x/> (XEP-0045
  // §7.5); tracking room presence would catch unmarked ones too.
  // TODO(muc): once a MUC component exists, recognise PMs from rooms the user joined even without <x/>,
  // and limit *sent* PM copies to the clients sharing the nick in that room (§6, "Multi-Session Nick").
  if (mucUser && direction === 'received' && toFullJid) return 'muc-pm';
  if (type === 'chat') return 'copy';
  // type normal: with a body, or with an IM payload.
  if (stanza.getChild('body')) return 'copy';
  for (const child of stanza.getChildElements()) {
    const ns = child.attrs.xmlns as string | undefined;
    if (ns !== undefined && IM_PAYLOAD_NS.has(ns)) return 'copy';
  }
  return 'not-im';
}

/** RFC 6121 §5.2.2: no 'type', or one the server does not understand, is "normal". */
function messageType(stanza: Element): 'normal' | 'chat' | 'groupchat' | 'headline' | 'error' {
  const t = stanza.attrs.type as string | undefined;
  return t === 'chat' || t === 'groupchat' || t === 'headline' || t === 'error' ? t : 'normal';
}
