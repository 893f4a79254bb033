// Iqs to the service, to rooms and to occupants: disco (§6), muc#admin (§8-§9), muc#owner (§10), the room
// archive (XEP-0313), moderation (XEP-0425), ping and self-ping (XEP-0199, XEP-0410).
import { waddleOfDomain } from '../../shard/realm.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, type Jid, parseJid } from '../../xmpp/jid.ts';
import type { Element } from '../../xmpp/xml.ts';
import { handleAdminGet, handleAdminSet } from './admin.ts';
import { handleRoomMamQuery, mamQueryForm } from './archive.ts';
import { itemsElement, publicRoomsHere, roomInfo, roomItems, serviceInfo } from './disco.ts';
import type { MucEnv } from './env.ts';
import { handleModerate } from './moderation.ts';
import { MUC } from './ns.ts';
import { handleOwnerGet, handleOwnerSet } from './owner.ts';
import { publicRoomsEverywhere } from './service-items.ts';

const unavailable = (): StanzaError => new StanzaError('cancel', 'service-unavailable');

export async function handleIq(env: MucEnv, stanza: Element, to: Jid): Promise<Element | undefined> {
  const children = stanza.getChildElements();
  const payload = children[0];
  // RFC 6120 §8.2.3: exactly one payload.
  if (!payload || children.length !== 1) throw new StanzaError('modify', 'bad-request', 'iq get/set needs exactly one payload');
  const key = `${String(stanza.attrs.type)} ${String(payload.attrs.xmlns)} ${payload.name}`;
  const real = String(stanza.attrs.from);
  if (!to.local) return serviceIq(env, key, payload, real, to);
  if (to.resource) return occupantIq(env, key, real, to);
  const room = await env.rooms.get(bareOf(to));
  if (!room) throw new StanzaError('cancel', 'item-not-found', 'no such room');
  // §10.1.1: a locked room does not exist for anyone but its owner.
  if (room.locked && room.affiliationOf(bareOf(parseJid(real))) !== 'owner')
    throw new StanzaError('cancel', 'item-not-found', 'no such room');
  switch (key) {
    case `get ${MUC.DISCO_INFO} query`:
      if (payload.attrs.node !== undefined) throw new StanzaError('cancel', 'item-not-found');
      return roomInfo(room);
    case `get ${MUC.DISCO_ITEMS} query`:
      return roomItems(room);
    case `get ${MUC.ADMIN} query`:
      return handleAdminGet(env, room, real, payload);
    case `set ${MUC.ADMIN} query`:
      return handleAdminSet(env, room, real, payload).then(() => undefined);
    case `get ${MUC.OWNER} query`:
      return handleOwnerGet(env, room, real);
    case `set ${MUC.OWNER} query`:
      return handleOwnerSet(env, room, real, payload).then(() => undefined);
    case `set ${MUC.MAM} query`:
      return handleRoomMamQuery(env, room, real, payload);
    case `get ${MUC.MAM} query`:
      return mamQueryForm();
    case `set ${MUC.MODERATE} moderate`:
      return handleModerate(env, room, real, payload).then(() => undefined);
    case `get ${MUC.PING} ping`:
      return undefined;
    default:
      throw unavailable();
  }
}

async function serviceIq(env: MucEnv, key: string, payload: Element, real: string, to: Jid): Promise<Element | undefined> {
  switch (key) {
    case `get ${MUC.DISCO_INFO} query`:
      return serviceInfo(to.domain === env.conference ? 'Chatrooms' : to.domain);
    case `get ${MUC.DISCO_ITEMS} query`:
      // A Waddle's channels all live on this shard; conference rooms are spread over every shard.
      return itemsElement(
        to.domain === env.conference ? await publicRoomsEverywhere(env, to.domain) : await publicRoomsHere(env, to.domain),
      );
    case `get ${MUC.PING} ping`:
      return undefined;
    case `get ${MUC.ADMIN} query`:
    case `set ${MUC.ADMIN} query`: {
      // muc#admin to <waddle>.groups.<domain>: the Waddle's own affiliations (every channel inherits them).
      const waddle = waddleOfDomain(to.domain, env.ctx.domain);
      if (!env.waddles || waddle === undefined) throw unavailable();
      return env.waddles.waddleAdmin(waddle, real, key.startsWith('get') ? 'get' : 'set', payload);
    }
    default:
      throw unavailable();
  }
}

/** XEP-0410 §3.1: a ping to one's own occupant JID is answered by the service; anyone else is not joined. */
async function occupantIq(env: MucEnv, key: string, real: string, to: Jid): Promise<Element | undefined> {
  if (key !== `get ${MUC.PING} ping`) throw unavailable();
  const room = await env.rooms.get(bareOf(to));
  const o = room?.occupantOfReal(real);
  if (!o || o.nick !== to.resource) throw new StanzaError('cancel', 'not-acceptable', 'you are not joined with this nick');
  return undefined;
}
