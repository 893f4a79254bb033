// XEP-0424 Message Retraction as seen by an archive: find the retracted message and replace it with a tombstone
// (XEP-0424 §5.1 "Tombstones"). Each home shard does this for its own user's archive only.
import type { ArchivedStanza, ArchiveStore } from '../../router/module.ts';
import { bareOf, tryParseJid } from '../../xmpp/jid.ts';
import { parseElement } from '../../xmpp/stream-parser.ts';
import { Element, xml } from '../../xmpp/xml.ts';
import { originIdOf, SID_NS } from './stanza-id.ts';

export const RETRACT_NS = 'urn:xmpp:message-retract:1';
/**
 * How many of the latest messages exchanged with the contact are searched for an origin-id. Clients retract
 * recent messages; a bounded scan keeps a retraction from reading a whole archive.
 */
export const RETRACT_SCAN = 100;

/** XEP-0424 §4: `<retract xmlns='urn:xmpp:message-retract:1' id='…'/>`, the id of the message retracted. */
export function retractedId(stanza: Element): string | undefined {
  const id = stanza.getChild('retract', RETRACT_NS)?.attrs.id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/**
 * XEP-0424 §4: in a 1:1 chat the id is the retracted message's origin-id (XEP-0359), or its 'id' attribute when it
 * had none. A stored message only matches when it was sent by the same bare JID as the retraction (§7: "MUST
 * only process a retraction if it was sent by the same sender"). It must not itself be a retraction.
 */
export function isRetractedBy(stored: Element, id: string, senderBare: string): boolean {
  if (!isRetractableFrom(stored, senderBare)) return false;
  const origin = originIdOf(stored);
  return origin === id || (origin === undefined && stored.attrs.id === id);
}

/** Sent by `senderBare`, and neither a retraction nor already a tombstone. */
function isRetractableFrom(stored: Element, senderBare: string): boolean {
  const from = tryParseJid(stored.attrs.from as string | undefined);
  if (from === undefined || bareOf(from) !== senderBare) return false;
  return !stored.getChild('retract', RETRACT_NS) && !stored.getChild('retracted', RETRACT_NS);
}

/**
 * XEP-0424 §5.1: the tombstone keeps the stanza's addressing and ids (attributes, XEP-0359 origin-id and
 * stanza-ids) so references and MAM paging stay valid, drops all content, and says when it was retracted.
 */
export function tombstone(stored: Element, stampMs: number): Element {
  const t = new Element('message', { ...stored.attrs });
  for (const child of stored.getChildElements()) {
    if ((child.name === 'origin-id' || child.name === 'stanza-id') && child.attrs.xmlns === SID_NS)
      t.append(xml(child.name, { ...child.attrs }));
  }
  t.append(xml('retracted', { xmlns: RETRACT_NS, stamp: new Date(stampMs).toISOString() }));
  return t;
}

/**
 * Replaces the message `id` sent by `senderBare` in `owner`'s archive with a tombstone. `id` may be the archive's
 * own stanza-id too (clients that know it use it). Returns the archive id replaced, or undefined.
 */
export async function applyRetraction(
  store: ArchiveStore,
  owner: string,
  contact: string,
  id: string,
  senderBare: string,
  now: number,
): Promise<string | undefined> {
  const candidates: ArchivedStanza[] = [];
  const direct = await store.get(owner, id);
  if (direct !== undefined) candidates.push(direct);
  const recent = await store.query(owner, { with: contact, before: '', max: RETRACT_SCAN });
  for (let i = recent.items.length - 1; i >= 0; i--) candidates.push(recent.items[i] as ArchivedStanza);
  for (const c of candidates) {
    let el: Element;
    try {
      el = parseElement(c.xml);
    } catch {
      continue;
    }
    // Named by the archive's own id: only the sender check applies.
    if (c === direct ? !isRetractableFrom(el, senderBare) : !isRetractedBy(el, id, senderBare)) continue;
    await store.replace(owner, c.id, tombstone(el, now).toString());
    return c.id;
  }
  return undefined;
}
