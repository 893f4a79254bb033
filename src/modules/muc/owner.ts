// XEP-0045 muc#owner (§10): the configuration form, instant (§10.1.2) and reserved (§10.1.3) rooms, and
// destruction with an alternate venue (§10.9).
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, parseJid, tryParseJid } from '../../xmpp/jid.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import { applyConfigForm, configForm } from './config-form.ts';
import type { MucEnv } from './env.ts';
import { MUC } from './ns.ts';
import { occupantPresence } from './occupants.ts';
import { removeOccupant } from './presence.ts';
import { AFFILIATION_RANK, type Room } from './room.ts';

async function requireOwner(env: MucEnv, room: Room, real: string): Promise<void> {
  const bare = bareOf(parseJid(real));
  const aff = env.waddles && room.kind.kind === 'channel' ? await env.waddles.refreshAffiliation(room, bare) : room.affiliationOf(bare);
  // §10.1.2 / §10.2: only owners configure or destroy a room.
  if (aff !== 'owner') throw new StanzaError('auth', 'forbidden', 'only owners may do this');
}

export async function handleOwnerGet(env: MucEnv, room: Room, real: string): Promise<Element> {
  await requireOwner(env, room, real);
  return xml('query', { xmlns: MUC.OWNER }, configForm(room.config, env.historyCap));
}

export async function handleOwnerSet(env: MucEnv, room: Room, real: string, payload: Element): Promise<void> {
  await requireOwner(env, room, real);
  const destroy = payload.getChild('destroy');
  if (destroy) return destroyRoom(env, room, destroy);
  const form = payload.getChild('x', MUC.DATA);
  if (!form) throw new StanzaError('modify', 'bad-request', 'expected a data form or <destroy/>');
  if (form.attrs.type === 'cancel') {
    // §10.1.3: cancelling the initial configuration of a new (locked) room destroys it.
    if (room.locked) await destroyRoom(env, room, xml('destroy'));
    return;
  }
  if (form.attrs.type !== 'submit') throw new StanzaError('modify', 'bad-request', 'the form must be submitted');
  const before = room.config;
  room.config = applyConfigForm(before, form, env.historyCap);
  // §10.1.2 / §10.1.3: an instant room (empty form) or a configured one is unlocked.
  room.locked = false;
  await env.rooms.configChanged(room, before.persistent);
  await notifyConfigChange(env, room, before);
  env.ctx.log.info({ room: room.jid, jid: real }, 'room configured');
}

/** §10.2.1: occupants learn about configuration changes by status codes in a message from the room. */
async function notifyConfigChange(env: MucEnv, room: Room, before: Room['config']): Promise<void> {
  const after = room.config;
  // §9.7 / §10.2: becoming members-only removes those who are not members (322).
  if (after.membersOnly && !before.membersOnly) {
    for (const o of [...room.occupants.values()]) {
      if (AFFILIATION_RANK[room.affiliationOf(o.bare)] < AFFILIATION_RANK.member) await removeOccupant(env, room, o, { codes: [322] });
    }
  }
  const codes = [104];
  if (after.whois !== before.whois) codes.push(after.whois === 'anyone' ? 172 : 173);
  if (after.logging !== before.logging) codes.push(after.logging ? 170 : 171);
  if (room.empty) return;
  const x = xml('x', { xmlns: MUC.USER }, ...codes.map((code) => xml('status', { code: String(code) })));
  env.fanout(xml('message', { from: room.jid, type: 'groupchat' }, x), room.allReal());
}

/** §10.9: every occupant gets unavailable with <destroy/> (alternate venue and reason); the room is gone. */
export async function destroyRoom(env: MucEnv, room: Room, destroy: Element): Promise<void> {
  const d = xml('destroy');
  const alt = tryParseJid(destroy.attrs.jid as string | undefined);
  if (alt) d.attrs.jid = bareOf(alt);
  const reason = destroy.getChildText('reason');
  if (reason !== null) d.append(xml('reason', {}, reason));
  for (const o of [...room.occupants.values()]) {
    const p = occupantPresence(room, o, true, true, { type: 'unavailable', destroy: d });
    // §10.9 example 206: affiliation and role both 'none'.
    const item = p.getChild('x', MUC.USER)?.getChild('item');
    if (item) item.attrs.affiliation = 'none';
    env.fanout(p, [...o.sessions.keys()]);
    room.removeOccupant(o);
    env.metrics.occupants.dec();
  }
  await env.rooms.destroy(room);
  env.ctx.log.info({ room: room.jid, venue: d.attrs.jid }, 'room destroyed');
}
