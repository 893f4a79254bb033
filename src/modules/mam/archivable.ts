// Which messages an archive keeps (XEP-0313 §7.1 "Storage and Retrieval Rules", XEP-0334 hints). Pure. Shared by
// personal archives (this module, which also leaves out type groupchat) and room archives (the MUC module).
import type { Element } from '../../xmpp/xml.ts';

export const HINTS_NS = 'urn:xmpp:hints';

/**
 * Namespaces whose presence makes a message worth keeping even without a <body/> (XEP-0313 §7.1.1: a server
 * "MAY include additional non-conversation messages"): each changes or completes the conversation, so a client
 * syncing from the archive needs it to render history as the live recipients saw it.
 */
const LASTING_NS: ReadonlySet<string> = new Set([
  'urn:xmpp:reactions:0', // XEP-0444 reactions
  'urn:xmpp:message-retract:1', // XEP-0424 retractions (v0.4+)
  'urn:xmpp:message-retract:0', // XEP-0424 retractions (v0.2-0.3, inside XEP-0422 fastening)
  'urn:xmpp:fasten:0', // XEP-0422 fastenings (apply-to)
  'urn:xmpp:message-moderate:1', // XEP-0425 moderation notices
  'urn:xmpp:chat-markers:0', // XEP-0333 displayed/received markers
  'urn:xmpp:receipts', // XEP-0184 receipts (as Prosody: worth a receipt, worth archiving)
  'eu.siacs.conversations.axolotl', // OMEMO (legacy) payloads, which carry no <body/> of their own
  'urn:xmpp:omemo:2', // OMEMO 0.8+
  'urn:xmpp:openpgp:0', // XEP-0373 OpenPGP
  'jabber:x:encrypted', // XEP-0027
  'urn:xmpp:eme:0', // XEP-0380 explicit encryption marker
  'jabber:x:conference', // XEP-0249 direct MUC invitations
  'urn:xmpp:jingle-message:0', // XEP-0353 call offers and outcomes
  'urn:xmpp:jingle-message:1',
]);

/**
 * XEP-0313 §7.1.1: keep messages that hold content, not state changes (a lone XEP-0085 chat state is not
 * archived). Errors are never archived (they report on some other stanza) and neither are headlines (ephemeral by
 * definition, §7.1.1 "not generally suggested"). XEP-0334 §4: <no-store/> and <no-permanent-store/> keep a message
 * out, <store/> keeps it in.
 */
export function isArchivable(stanza: Element): boolean {
  if (stanza.name !== 'message') return false;
  const type = (stanza.attrs.type as string | undefined) ?? 'normal';
  if (type === 'error' || type === 'headline') return false;
  if (stanza.getChild('no-store', HINTS_NS) || stanza.getChild('no-permanent-store', HINTS_NS)) return false;
  if (stanza.getChild('store', HINTS_NS)) return true;
  for (const child of stanza.getChildElements()) {
    if (child.name === 'body' || child.name === 'subject') {
      const ns = child.getNS();
      if (ns === 'jabber:client' || ns === 'jabber:server' || ns === undefined || ns === '') return true;
    }
    const ns = child.attrs.xmlns as string | undefined;
    if (ns !== undefined && LASTING_NS.has(ns)) return true;
    // XEP-0045 §7.8.2 mediated invitations: <x xmlns='…muc#user'><invite/></x>.
    if (child.name === 'x' && ns === 'http://jabber.org/protocol/muc#user' && child.getChild('invite')) return true;
  }
  return false;
}

/** A personal archive (XEP-0313 §7.1.1) also leaves out groupchat messages: the room keeps its own archive. */
export function isPersonallyArchivable(stanza: Element): boolean {
  return stanza.attrs.type !== 'groupchat' && isArchivable(stanza);
}
