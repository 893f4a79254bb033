// RFC 6121 §2: the jabber:iq:roster payloads (result, push, set) and which stored items a client sees.
import type { RosterItem } from '../../router/module.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, tryParseJid } from '../../xmpp/jid.ts';
import { NS } from '../../xmpp/ns.ts';
import { type Element, xml } from '../../xmpp/xml.ts';

/** §2.3.3 lets the server pick the limits for names and groups; these match common client UIs with room to spare. */
export const MAX_NAME_CHARS = 1024;
export const MAX_GROUP_CHARS = 1024;
export const MAX_GROUPS = 64;

export type RosterSet =
  | { readonly remove: true; readonly contact: string }
  | { readonly remove: false; readonly contact: string; readonly name: string | null; readonly groups: string[] };

/**
 * A stored item a client must not see: only an inbound request is pending and the user never added the
 * contact (§3.1.3: a pending request creates no roster item; the store keeps it as a placeholder so the
 * request survives until the user answers it). The store has no "added by the user" flag, so an item the
 * user added without name or groups is hidden too while a request from it is pending.
 */
export function isPlaceholder(item: RosterItem): boolean {
  return item.pendingIn && item.subscription === 'none' && !item.askOut && !item.approved && item.name === null && item.groups.length === 0;
}

/** §2.1.2: the item as clients see it (ask and approved only when set; no 'pending in' attribute exists). */
export function buildItem(item: RosterItem): Element {
  const attrs: Record<string, string> = { jid: item.contact, subscription: item.subscription };
  if (item.name !== null) attrs.name = item.name;
  if (item.askOut) attrs.ask = 'subscribe';
  if (item.approved) attrs.approved = 'true'; // §2.1.2.1, only because we support pre-approval
  const el = xml('item', attrs);
  for (const group of item.groups) el.append(xml('group', {}, group));
  return el;
}

/** §2.1.3 roster result, with XEP-0237 `ver`; placeholders left out. */
export function buildQuery(items: readonly RosterItem[], version: number): Element {
  const query = xml('query', { xmlns: NS.ROSTER, ver: String(version) });
  for (const item of items) if (!isPlaceholder(item)) query.append(buildItem(item));
  return query;
}

/** §2.1.6 roster push of one item, or of its removal (subscription='remove', §2.5.2). */
export function buildPush(to: string, id: string, version: number, item: RosterItem | { contact: string; removed: true }): Element {
  const el = 'removed' in item ? xml('item', { jid: item.contact, subscription: 'remove' }) : buildItem(item);
  return xml('iq', { type: 'set', id, to }, xml('query', { xmlns: NS.ROSTER, ver: String(version) }, el));
}

/**
 * §2.1.5 / §2.3.3 roster set. Throws StanzaError: bad-request for anything but one <item/> with a bare
 * `jid`, or for duplicate groups; not-acceptable for an empty group or a name or group over the limits.
 * §2.1.2.5: any `subscription` other than 'remove' is ignored; §2.1.2.1/§2.1.2.2: `approved` and `ask` too.
 */
export function parseRosterSet(query: Element): RosterSet {
  const children = query.getChildElements();
  if (children.length !== 1 || children[0]?.name !== 'item')
    throw new StanzaError('modify', 'bad-request', 'a roster set carries exactly one <item/>');
  const item = children[0];
  const jidText = item.attrs.jid as string | undefined;
  if (jidText === undefined) throw new StanzaError('modify', 'bad-request', 'the item has no jid');
  const jid = tryParseJid(jidText);
  if (!jid) throw new StanzaError('modify', 'jid-malformed');
  if (jid.resource) throw new StanzaError('modify', 'bad-request', 'roster items are bare JIDs');
  const contact = bareOf(jid);
  if (item.attrs.subscription === 'remove') return { remove: true, contact };

  const rawName = item.attrs.name as string | undefined;
  const name = rawName === undefined || rawName === '' ? null : rawName;
  if (name !== null && name.length > MAX_NAME_CHARS) throw new StanzaError('modify', 'not-acceptable', 'the name is too long');
  const groups: string[] = [];
  for (const child of item.getChildElements()) {
    if (child.name !== 'group') continue;
    const group = child.getText();
    if (group === '') throw new StanzaError('modify', 'not-acceptable', 'a group has no name');
    if (group.length > MAX_GROUP_CHARS) throw new StanzaError('modify', 'not-acceptable', 'a group name is too long');
    if (groups.includes(group)) throw new StanzaError('modify', 'bad-request', `duplicate group "${group}"`);
    groups.push(group);
  }
  if (groups.length > MAX_GROUPS) throw new StanzaError('modify', 'not-acceptable', 'too many groups');
  return { remove: false, contact, name, groups };
}
