// XEP-0313 on a room JID (§5 "Querying a MUC archive"): occupants (and, in members-only rooms, members)
// page through the room's archive; results go to the requester's real full JID, from the room.
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, parseJid } from '../../xmpp/jid.ts';
import type { Element } from '../../xmpp/xml.ts';
import { finElement, parseMamQuery, queryFormElement, resultMessages } from '../mam/codec.ts';
import type { MucEnv } from './env.ts';
import { AFFILIATION_RANK, type Room } from './room.ts';

async function mayQuery(env: MucEnv, room: Room, real: string): Promise<boolean> {
  if (room.occupantOfReal(real)) return true;
  const bare = bareOf(parseJid(real));
  const aff = env.waddles && room.kind.kind === 'channel' ? await env.waddles.refreshAffiliation(room, bare) : room.affiliationOf(bare);
  return room.config.membersOnly && AFFILIATION_RANK[aff] >= AFFILIATION_RANK.member;
}

export async function handleRoomMamQuery(env: MucEnv, room: Room, real: string, payload: Element): Promise<Element> {
  // XEP-0313 §5: the room decides who may read its archive; we follow who may read it live.
  if (!(await mayQuery(env, room, real))) throw new StanzaError('auth', 'forbidden', 'only occupants may query the room archive');
  const { queryId, query, flip } = parseMamQuery(payload, env.ctx.config.archive.maxPageSize);
  let page: Awaited<ReturnType<MucEnv['archive']['query']>>;
  try {
    page = await env.archive.query(room.jid, query);
  } catch (err) {
    // XEP-0313 §5.1.3 / XEP-0059 §2.6: an unknown paging id.
    if ((err as { code?: string }).code === 'ERR_ITEM_NOT_FOUND') throw new StanzaError('cancel', 'item-not-found', 'no such archive id');
    throw err;
  }
  const items = flip ? [...page.items].reverse() : page.items;
  const opts = queryId === undefined ? { to: real, from: room.jid, items } : { to: real, from: room.jid, queryId, items };
  for (const m of resultMessages(opts)) env.ctx.route(m);
  return finElement(page, { flip });
}

export function mamQueryForm(): Element {
  return queryFormElement();
}
