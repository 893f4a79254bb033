// XEP-0045 §6 service discovery: the service (§6.1, §6.3 public rooms), a room (§6.4 features and the
// muc#roominfo form) and its items (§6.5).
import { type Element, xml } from '../../xmpp/xml.ts';
import type { MucEnv } from './env.ts';
import { MUC } from './ns.ts';
import type { Room } from './room.ts';

export function serviceInfo(name: string): Element {
  return xml(
    'query',
    { xmlns: MUC.DISCO_INFO },
    xml('identity', { category: 'conference', type: 'text', name }),
    ...[MUC.BASE, MUC.DISCO_INFO, MUC.DISCO_ITEMS, MUC.PING, MUC.OCCUPANT_ID, MUC.MODERATE].map((v) => xml('feature', { var: v })),
  );
}

/** §6.4: features name every option's state (persistent/temporary, open/members-only, …). */
export function roomFeatures(room: Room): string[] {
  const c = room.config;
  const f = [
    MUC.BASE,
    MUC.STABLE_ID,
    MUC.SELF_PING,
    MUC.DISCO_INFO,
    MUC.DISCO_ITEMS,
    MUC.PING,
    MUC.OCCUPANT_ID,
    MUC.MODERATE,
    MUC.SID,
    c.persistent ? 'muc_persistent' : 'muc_temporary',
    c.membersOnly ? 'muc_membersonly' : 'muc_open',
    c.moderated ? 'muc_moderated' : 'muc_unmoderated',
    c.passwordProtected ? 'muc_passwordprotected' : 'muc_unsecured',
    c.public ? 'muc_public' : 'muc_hidden',
    c.whois === 'anyone' ? 'muc_nonanonymous' : 'muc_semianonymous',
  ];
  if (room.logs) f.push(MUC.MAM);
  return f;
}

function field(v: string, values: readonly string[], type?: string, label?: string): Element {
  const attrs: Record<string, string> = { var: v };
  if (type) attrs.type = type;
  if (label) attrs.label = label;
  return xml('field', attrs, ...values.map((value) => xml('value', {}, value)));
}

export function roomInfo(room: Room): Element {
  const c = room.config;
  const name = c.name || room.jid.slice(0, room.jid.indexOf('@'));
  // §15.5.4 muc#roominfo.
  const form = xml(
    'x',
    { xmlns: MUC.DATA, type: 'result' },
    field('FORM_TYPE', [MUC.ROOMINFO], 'hidden'),
    field('muc#roominfo_description', [c.description], 'text-single', 'Description'),
    field('muc#roominfo_subject', [room.subject.text], 'text-single', 'Subject'),
    field('muc#roominfo_occupants', [String(room.countOccupants())], 'text-single', 'Number of occupants'),
    field('muc#roomconfig_roomname', [name], 'text-single', 'Name'),
    field('muc#roomconfig_changesubject', [c.changeSubject ? '1' : '0'], 'boolean', 'Occupants may change the subject'),
    field('muc#roomconfig_allowinvites', [c.allowInvites ? '1' : '0'], 'boolean', 'Occupants may invite others'),
    field('muc#roomconfig_allowpm', [c.allowPm], 'list-single', 'Who may send private messages'),
  );
  return xml(
    'query',
    { xmlns: MUC.DISCO_INFO },
    xml('identity', { category: 'conference', type: 'text', name }),
    ...roomFeatures(room).map((v) => xml('feature', { var: v })),
    form,
  );
}

/** §6.5: occupants are listed only where everyone may see them anyway (public, non-anonymous rooms). */
export function roomItems(room: Room): Element {
  const q = xml('query', { xmlns: MUC.DISCO_ITEMS });
  if (room.config.public && room.config.whois === 'anyone')
    for (const o of room.occupants.values()) q.append(xml('item', { jid: `${room.jid}/${o.nick}`, name: o.nick }));
  return q;
}

export interface PublicRoom {
  jid: string;
  name: string;
}

/** §6.3: the public, unlocked rooms of `domain` this shard holds, live or stored. */
export async function publicRoomsHere(env: MucEnv, domain: string): Promise<PublicRoom[]> {
  const out = new Map<string, PublicRoom>();
  for (const room of env.rooms.live()) {
    if (room.jid.endsWith(`@${domain}`) && room.config.public && !room.locked) out.set(room.jid, { jid: room.jid, name: room.config.name });
  }
  for (const jid of await env.store.list(domain)) {
    if (out.has(jid) || env.rooms.peek(jid)) continue;
    const stored = await env.store.get(jid);
    if (stored && stored.config.public !== false)
      out.set(jid, { jid, name: typeof stored.config.name === 'string' ? stored.config.name : '' });
  }
  return [...out.values()];
}

export function itemsElement(rooms: readonly PublicRoom[]): Element {
  const sorted = [...rooms].sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0));
  return xml(
    'query',
    { xmlns: MUC.DISCO_ITEMS },
    ...sorted.map((r) => xml('item', { jid: r.jid, name: r.name || r.jid.slice(0, r.jid.indexOf('@')) })),
  );
}
