// XEP-0045 presence to an occupant JID (room@service/nick): entering (§7.2, with the error conditions of
// §7.2.6-§7.2.10 and creation §10.1), presence changes (§7.7), nick changes (§7.6) and leaving (§7.14).
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, type Jid, parseJid } from '../../xmpp/jid.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import { defaultConfig } from './config-form.ts';
import type { MucEnv } from './env.ts';
import { sendHistory } from './history.ts';
import { MUC } from './ns.ts';
import { broadcastPresence, copy, occupantPresence } from './occupants.ts';
import { AFFILIATION_RANK, type Affiliation, type Occupant, type Room } from './room.ts';

/** The client's presence as the room keeps it: payload only, no addresses, no id. */
function stored(stanza: Element): Element {
  const p = copy(stanza);
  delete p.attrs.to;
  delete p.attrs.from;
  delete p.attrs.id;
  return p;
}

export async function handleOccupantPresence(env: MucEnv, stanza: Element, to: Jid): Promise<void> {
  const real = String(stanza.attrs.from);
  const realJid = parseJid(real);
  const roomJid = bareOf(to);
  const type = stanza.attrs.type as string | undefined;
  const room = await env.rooms.get(roomJid);
  const o = room?.occupantOfReal(real);
  if (type === 'error') {
    // The occupant's server could not take a presence of ours: it is gone (status 333, XEP-0045 §7.14 / §15.6).
    if (room && o) await removeOccupant(env, room, o, { codes: [333] });
    return;
  }
  if (type === 'unavailable') {
    if (room && o) await leave(env, room, o, real, stanza);
    return;
  }
  if (type !== undefined) return; // subscription requests and probes to an occupant mean nothing (§7.1)
  if (room && o) {
    if (o.nick === to.resource) return changePresence(env, room, o, real, stanza);
    return changeNick(env, room, o, real, to.resource, stanza);
  }
  return join(env, room, roomJid, real, bareOf(realJid), to.resource, stanza);
}

/** §7.2.6-§7.2.10, §10.1.1: why `bare` may not enter, as the error the service returns. */
async function admission(
  env: MucEnv,
  room: Room,
  bare: string,
  nick: string,
  x: Element | undefined,
  created: boolean,
): Promise<Affiliation> {
  const affiliation =
    env.waddles && room.kind.kind === 'channel' ? await env.waddles.refreshAffiliation(room, bare) : room.affiliationOf(bare);
  // §10.1.1: a room waiting for its configuration is invisible to everyone but its owner.
  if (room.locked && affiliation !== 'owner')
    throw new StanzaError('cancel', 'item-not-found', 'the room is locked until its owner configures it');
  // §7.2.8: banned users may not enter.
  if (affiliation === 'outcast') throw new StanzaError('auth', 'forbidden', 'you are banned from this room');
  // §7.2.7: members-only rooms admit members, admins and owners.
  if (room.config.membersOnly && AFFILIATION_RANK[affiliation] < AFFILIATION_RANK.member)
    throw new StanzaError('auth', 'registration-required', 'this room is members-only');
  // §7.2.6: the password, from <x xmlns='…muc'><password/>.
  if (!created && room.config.passwordProtected && x?.getChildText('password') !== room.config.password)
    throw new StanzaError('auth', 'not-authorized', 'a password is required to enter this room');
  // §7.2.9: a nick in use by someone else, or reserved by another member (§9.5), is refused.
  const holder = room.occupants.get(nick);
  if (holder && holder.bare !== bare) throw new StanzaError('cancel', 'conflict', 'that nickname is in use');
  const reservedBy = room.nickOwner(nick);
  if (reservedBy !== undefined && reservedBy !== bare) throw new StanzaError('cancel', 'conflict', 'that nickname is reserved');
  // §7.2.10: full rooms refuse everyone but admins and owners.
  if (!holder && AFFILIATION_RANK[affiliation] < AFFILIATION_RANK.admin) {
    const limits = [env.ctx.config.muc.maxOccupants, room.config.maxUsers].filter((n) => n > 0);
    if (room.countOccupants() >= Math.min(...limits)) throw new StanzaError('wait', 'service-unavailable', 'the room is full');
  }
  return affiliation;
}

/** §10.1: a new conference room, its creator its owner; locked for MUC-aware clients (§10.1.1), instant otherwise. */
async function createRoom(env: MucEnv, roomJid: string, bare: string, mucAware: boolean): Promise<Room> {
  const kind = env.rooms.kindOf(roomJid);
  if (kind.kind === 'channel') {
    if (!env.waddles) throw new StanzaError('cancel', 'item-not-found', 'no such channel');
    return env.waddles.createChannelRoom(roomJid, kind.waddle, kind.channel, bare);
  }
  const { createRooms } = env.ctx.config.muc;
  if (createRooms === 'admins' && !env.ctx.config.admins.includes(bare))
    throw new StanzaError('cancel', 'not-allowed', 'only administrators may create rooms');
  const room = env.rooms.create(roomJid, defaultConfig(env.historyCap), mucAware);
  room.setAffiliation(bare, 'owner');
  env.ctx.log.info({ room: roomJid, jid: bare }, 'room created');
  return room;
}

async function join(
  env: MucEnv,
  existing: Room | undefined,
  roomJid: string,
  real: string,
  bare: string,
  nick: string,
  stanza: Element,
): Promise<void> {
  const x = stanza.getChild('x', MUC.BASE);
  const created = existing === undefined;
  const room = existing ?? (await createRoom(env, roomJid, bare, x !== undefined));
  let affiliation: Affiliation;
  try {
    affiliation = await admission(env, room, bare, nick, x, created);
  } catch (err) {
    if (created) await env.rooms.released(room);
    throw err;
  }
  const isNew = !room.occupants.has(nick);
  const o = room.addSession(nick, bare, real, room.defaultRole(affiliation), stored(stanza));
  if (isNew) env.metrics.occupants.inc();
  env.ctx.log.debug({ room: room.jid, jid: real, nick }, 'occupant joined');
  // §7.2.3: first the presence of every other occupant to the newcomer...
  const seesJids = room.config.whois === 'anyone' || o.role === 'moderator';
  for (const other of room.occupants.values()) if (other !== o) env.fanout(occupantPresence(room, other, seesJids, false), [real]);
  // ...then the newcomer's presence to everyone, itself last with 110 (§7.2.3), 100 in non-anonymous rooms
  // (§7.2.5), 170 when the room is logged (§7.2.13), 201 for a new room (§10.1.1).
  const selfCodes: number[] = [];
  if (room.config.whois === 'anyone') selfCodes.push(100);
  if (room.logs) selfCodes.push(170);
  if (created) selfCodes.push(201);
  broadcastPresence(env, room, o, { selfCodes });
  // §7.2.14: history (none for a room that did not exist), then §7.2.15: the subject, even if empty.
  if (!created) await sendHistory(env, room, real, x?.getChild('history'));
  env.fanout(subjectMessage(room), [real]);
}

export function subjectMessage(room: Room): Element {
  const from = room.subject.by === '' ? room.jid : `${room.jid}/${room.subject.by}`;
  return xml('message', { from, type: 'groupchat', id: `subject-${room.subject.at}` }, xml('subject', {}, room.subject.text));
}

/** §7.7: a new presence of an occupant is broadcast as it is. */
function changePresence(env: MucEnv, room: Room, o: Occupant, real: string, stanza: Element): void {
  o.sessions.set(real, stored(stanza));
  o.current = real;
  broadcastPresence(env, room, o);
}

/** §7.6: unavailable from the old nick with 303 and the new nick, then available from the new nick. */
function changeNick(env: MucEnv, room: Room, o: Occupant, real: string, nick: string, stanza: Element): void {
  // Every resource of a multi-session occupant shares one nick: one of them cannot rename it alone.
  if (o.sessions.size > 1) throw new StanzaError('cancel', 'not-acceptable', 'leave with your other resources first');
  const holder = room.occupants.get(nick);
  const reservedBy = room.nickOwner(nick);
  if (holder || (reservedBy !== undefined && reservedBy !== o.bare)) throw new StanzaError('cancel', 'conflict', 'that nickname is in use');
  broadcastPresence(env, room, o, { type: 'unavailable', codes: [303], item: { nick } });
  room.renameOccupant(o, nick);
  o.sessions.set(real, stored(stanza));
  broadcastPresence(env, room, o);
}

/** §7.14: the occupant's unavailable presence goes to everyone, itself included (110). */
async function leave(env: MucEnv, room: Room, o: Occupant, real: string, stanza: Element): Promise<void> {
  if (o.sessions.size > 1) {
    // One resource of a multi-session occupant leaves: only it hears about it.
    room.removeSession(real);
    env.fanout(occupantPresence(room, o, true, true, { type: 'unavailable', payload: stored(stanza) }), [real]);
    return;
  }
  broadcastPresence(env, room, o, { type: 'unavailable', payload: stored(stanza) });
  room.removeSession(real);
  env.metrics.occupants.dec();
  env.ctx.log.debug({ room: room.jid, jid: real, nick: o.nick }, 'occupant left');
  await env.rooms.released(room);
}

/**
 * Removes an occupant on the room's initiative (§8.2 kick 307, §9.1 ban 301, §9.4 / §9.7 321 / 322, 333
 * errors): everyone, the occupant included, gets its unavailable presence with the codes.
 */
export async function removeOccupant(
  env: MucEnv,
  room: Room,
  o: Occupant,
  opts: { codes: number[]; actorNick?: string; reason?: string },
): Promise<void> {
  room.removeOccupant(o);
  env.metrics.occupants.dec();
  const item: { actorNick?: string; reason?: string } = {};
  if (opts.actorNick !== undefined) item.actorNick = opts.actorNick;
  if (opts.reason !== undefined) item.reason = opts.reason;
  broadcastPresence(env, room, o, { type: 'unavailable', codes: opts.codes, item });
  env.ctx.log.info({ room: room.jid, jid: o.bare, nick: o.nick, codes: opts.codes }, 'occupant removed');
  await env.rooms.released(room);
}
