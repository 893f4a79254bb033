// XEP-0191 payloads: <blocklist/>, <block/>, <unblock/> with <item jid='…'/> children.
import { StanzaError } from '../../xmpp/errors.ts';
import { JidError } from '../../xmpp/jid.ts';
import { NS } from '../../xmpp/ns.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import { normalizeItem } from './block-list.ts';

/**
 * The normalised JIDs of a <block/> or <unblock/> payload's items. An item without a usable 'jid' is
 * jid-malformed (XEP-0191 §3.3: "other standard XMPP stanza errors also apply", RFC 6120 §8.3.3.8).
 */
export function parseItems(payload: Element): string[] {
  const items: string[] = [];
  for (const item of payload.getChildren('item', NS.BLOCKING)) {
    const jid = item.attrs.jid as string | undefined;
    if (jid === undefined) throw new StanzaError('modify', 'jid-malformed', 'item without a jid');
    try {
      items.push(normalizeItem(jid));
    } catch (err) {
      if (err instanceof JidError) throw new StanzaError('modify', 'jid-malformed', err.message);
      throw err;
    }
  }
  return items;
}

/** <blocklist/>, <block/> or <unblock/> holding one <item/> per JID. */
export function buildItems(name: 'blocklist' | 'block' | 'unblock', jids: readonly string[]): Element {
  const el = xml(name, { xmlns: NS.BLOCKING });
  for (const jid of jids) el.append(xml('item', { jid }));
  return el;
}

/** XEP-0191 §3.3: the application condition added to not-acceptable for stanzas to a blocked JID. */
export function blockedError(): StanzaError {
  return new StanzaError('cancel', 'not-acceptable', undefined, xml('blocked', { xmlns: NS.BLOCKING_ERRORS }));
}
