// XEP-0045 muc#admin (§8 moderator and §9 admin use cases, §10.3-§10.8 owner lists): role changes by nick
// (kick 307, voice, moderator), affiliation changes by JID (ban 301, member, admin, owner) and the lists.
// A request's items are checked first and applied only if all are allowed (§9.2: the list change is one unit).
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, parseJid, tryParseJid } from '../../xmpp/jid.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import type { MucEnv } from './env.ts';
import { MUC } from './ns.ts';
import { broadcastPresence } from './occupants.ts';
import { removeOccupant } from './presence.ts';
import { AFFILIATION_RANK, type Affiliation, type Occupant, ROLE_RANK, type Role, type Room } from './room.ts';

const ROLES: ReadonlySet<string> = new Set(['moderator', 'participant', 'visitor', 'none']);
const AFFILIATIONS: ReadonlySet<string> = new Set(['owner', 'admin', 'member', 'outcast', 'none']);

const forbidden = (text: string) => new StanzaError('auth', 'forbidden', text);
const notAllowed = (text: string) => new StanzaError('cancel', 'not-allowed', text);

async function actorAffiliation(env: MucEnv, room: Room, bare: string): Promise<Affiliation> {
  if (env.waddles && room.kind.kind === 'channel') return env.waddles.refreshAffiliation(room, bare);
  return room.affiliationOf(bare);
}

export async function handleAdminGet(env: MucEnv, room: Room, real: string, payload: Element): Promise<Element> {
  const item = payload.getChild('item');
  const actor = await actorAffiliation(env, room, bareOf(parseJid(real)));
  const occupant = room.occupantOfReal(real);
  const query = xml('query', { xmlns: MUC.ADMIN });
  const affiliation = item?.attrs.affiliation as string | undefined;
  const role = item?.attrs.role as string | undefined;
  if (affiliation !== undefined && AFFILIATIONS.has(affiliation) && affiliation !== 'none') {
    // §9.3 / §9.5: admins see the ban and member lists; §10.5 / §10.8: owners the owner and admin lists.
    const needed = affiliation === 'owner' || affiliation === 'admin' ? AFFILIATION_RANK.owner : AFFILIATION_RANK.admin;
    if (AFFILIATION_RANK[actor] < needed) throw forbidden('you may not see this list');
    // A channel's lists are the Waddle's tuples (Waddle-level bans and members included), not the room's memory.
    const entries =
      env.waddles && room.kind.kind === 'channel'
        ? (await env.waddles.channelAffiliations(room)).map((e) => {
            const mem = room.affiliations.get(e.user);
            return [e.user, { affiliation: e.affiliation, nick: mem?.nick ?? '', reason: mem?.reason ?? '' }] as const;
          })
        : [...room.affiliations];
    for (const [jid, e] of entries) {
      if (e.affiliation !== affiliation) continue;
      const it = xml('item', { affiliation, jid });
      if (e.nick !== '') it.attrs.nick = e.nick;
      if (e.reason !== '') it.append(xml('reason', {}, e.reason));
      query.append(it);
    }
    return query;
  }
  if (role !== undefined && (role === 'moderator' || role === 'participant' || role === 'visitor')) {
    // §8.5 voice list: moderators; §9.8 moderator list: admins and owners.
    const allowed = role === 'moderator' ? AFFILIATION_RANK[actor] >= AFFILIATION_RANK.admin : occupant?.role === 'moderator';
    if (!allowed) throw forbidden('you may not see this list');
    for (const o of room.occupants.values()) {
      if (o.role !== role) continue;
      query.append(xml('item', { role, nick: o.nick, affiliation: room.affiliationOf(o.bare), jid: o.bare }));
    }
    return query;
  }
  throw new StanzaError('modify', 'bad-request', 'ask for one affiliation or role');
}

interface RoleChange {
  kind: 'role';
  target: Occupant;
  role: Role;
  reason: string | null;
}
interface AffiliationChange {
  kind: 'affiliation';
  jid: string;
  affiliation: Affiliation;
  nick: string;
  reason: string | null;
}
type Change = RoleChange | AffiliationChange;

/** §8.2-§8.4, §9.6, §9.7: may a moderator give `target` the role `role`? */
function checkRole(room: Room, actor: Occupant | undefined, actorAff: Affiliation, target: Occupant, role: Role): void {
  if (actor?.role !== 'moderator') throw forbidden('only moderators may change roles');
  const targetAff = room.affiliationOf(target.bare);
  // §9.6 / §9.7: granting or revoking moderator status is for admins and owners.
  if ((role === 'moderator' || target.role === 'moderator') && AFFILIATION_RANK[actorAff] < AFFILIATION_RANK.admin)
    throw forbidden('only admins may grant or revoke moderator status');
  // §8.2 / §8.4 / §9.7: no one is kicked, silenced or demoted by someone below or equal to their affiliation
  // when they are admins or owners.
  if (
    ROLE_RANK[role] < ROLE_RANK[target.role] &&
    AFFILIATION_RANK[targetAff] >= AFFILIATION_RANK.admin &&
    AFFILIATION_RANK[targetAff] >= AFFILIATION_RANK[actorAff]
  )
    throw notAllowed('you may not lower the role of an admin or owner');
  if (ROLE_RANK[role] < ROLE_RANK[target.role] && AFFILIATION_RANK[targetAff] > AFFILIATION_RANK[actorAff])
    throw notAllowed('you may not lower the role of someone of higher affiliation');
}

/** §9.1-§9.4, §10.3-§10.7: may `actorAff` move `jid` from its affiliation to `affiliation`? */
function checkAffiliation(room: Room, actorAff: Affiliation, jid: string, affiliation: Affiliation): void {
  const current = room.affiliationOf(jid);
  if (AFFILIATION_RANK[actorAff] < AFFILIATION_RANK.admin) throw forbidden('only admins and owners may change affiliations');
  // §10.3-§10.7: owner and admin affiliations, given or taken, are the owners' business.
  const touchesHigh = AFFILIATION_RANK[affiliation] >= AFFILIATION_RANK.admin || AFFILIATION_RANK[current] >= AFFILIATION_RANK.admin;
  if (touchesHigh && actorAff !== 'owner') throw notAllowed('only owners may change owner and admin affiliations');
  // §10.6: a room keeps at least one owner.
  if (current === 'owner' && affiliation !== 'owner') {
    const owners = [...room.affiliations.values()].filter((e) => e.affiliation === 'owner').length;
    if (owners <= 1) throw new StanzaError('cancel', 'conflict', 'a room needs an owner');
  }
}

function parseChanges(room: Room, payload: Element): Change[] {
  const changes: Change[] = [];
  for (const item of payload.getChildren('item')) {
    const reason = item.getChildText('reason');
    const role = item.attrs.role as string | undefined;
    const affiliation = item.attrs.affiliation as string | undefined;
    const nick = item.attrs.nick as string | undefined;
    if (affiliation !== undefined) {
      if (!AFFILIATIONS.has(affiliation)) throw new StanzaError('modify', 'bad-request', `unknown affiliation ${affiliation}`);
      let jid = tryParseJid(item.attrs.jid as string | undefined);
      if (!jid && nick !== undefined) {
        const o = room.occupants.get(nick);
        if (o) jid = parseJid(o.bare);
      }
      if (!jid) throw new StanzaError('modify', 'jid-malformed', 'an affiliation change needs a jid');
      // §9.1: affiliations are of bare JIDs (or whole servers).
      changes.push({
        kind: 'affiliation',
        jid: bareOf(jid),
        affiliation: affiliation as Affiliation,
        nick: item.attrs.jid === undefined ? '' : (nick ?? ''),
        reason,
      });
    } else if (role !== undefined && nick !== undefined) {
      if (!ROLES.has(role)) throw new StanzaError('modify', 'bad-request', `unknown role ${role}`);
      const target = room.occupants.get(nick);
      if (!target) throw new StanzaError('cancel', 'item-not-found', `no occupant ${nick}`);
      changes.push({ kind: 'role', target, role: role as Role, reason });
    } else {
      throw new StanzaError('modify', 'bad-request', 'an item needs a role and nick, or an affiliation and jid');
    }
  }
  if (changes.length === 0) throw new StanzaError('modify', 'bad-request', 'no items');
  return changes;
}

export async function handleAdminSet(env: MucEnv, room: Room, real: string, payload: Element): Promise<void> {
  const actorBare = bareOf(parseJid(real));
  const actorAff = await actorAffiliation(env, room, actorBare);
  const actor = room.occupantOfReal(real);
  const changes = parseChanges(room, payload);
  const channel = env.waddles !== undefined && room.kind.kind === 'channel';
  for (const c of changes) {
    if (c.kind === 'role') checkRole(room, actor, actorAff, c.target, c.role);
    // Channel affiliations are authorised by the Waddle service (its rules know Waddle-level rights).
    else if (!channel) checkAffiliation(room, actorAff, c.jid, c.affiliation);
  }
  const actorNick = actor?.nick;
  for (const c of changes) {
    if (c.kind === 'role') await applyRole(env, room, c, actorNick);
    // The Waddle service's change listener re-evaluates the occupants (waddle-rooms.ts).
    else if (env.waddles && channel) await env.waddles.setChannelAffiliation(room, c.jid, c.affiliation, actorBare);
    else await applyAffiliation(env, room, c, actorNick);
  }
}

async function applyRole(env: MucEnv, room: Room, c: RoleChange, actorNick: string | undefined): Promise<void> {
  const opts = { ...(actorNick === undefined ? {} : { actorNick }), ...(c.reason === null ? {} : { reason: c.reason }) };
  if (c.role === 'none') {
    // §8.2: kicked, status 307.
    await removeOccupant(env, room, c.target, { codes: [307], ...opts });
    return;
  }
  c.target.role = c.role;
  broadcastPresence(env, room, c.target, { item: opts });
}

/** Applies an affiliation change and its consequences for the occupants holding it (§9.1 301, §9.4 321). */
export async function applyAffiliation(env: MucEnv, room: Room, c: AffiliationChange, actorNick: string | undefined): Promise<void> {
  await env.rooms.setAffiliation(room, c.jid, c.affiliation, c.nick, c.reason ?? '');
  await affiliationChanged(env, room, c.jid, {
    ...(actorNick === undefined ? {} : { actorNick }),
    ...(c.reason === null ? {} : { reason: c.reason }),
  });
}

/** Re-evaluates the occupants of `bare` after its affiliation changed (also used for live Waddle changes). */
export async function affiliationChanged(
  env: MucEnv,
  room: Room,
  bare: string,
  item: { actorNick?: string; reason?: string } = {},
): Promise<void> {
  const affiliation = room.affiliationOf(bare);
  const holders = bare.includes('@') ? room.occupantsOfBare(bare) : [...room.occupants.values()].filter((o) => o.bare.endsWith(`@${bare}`));
  for (const o of holders) {
    const aff = room.affiliationOf(o.bare);
    // §9.1: a banned occupant is removed with 301.
    if (aff === 'outcast') await removeOccupant(env, room, o, { codes: [301], ...item });
    // §9.4: a member removed from a members-only room leaves with 321.
    else if (room.config.membersOnly && AFFILIATION_RANK[aff] < AFFILIATION_RANK.member)
      await removeOccupant(env, room, o, { codes: [321], ...item });
    else {
      // §9.3 / §9.6 / §10.3: the occupant's role follows its new affiliation.
      const role = room.defaultRole(affiliation);
      if (role === 'moderator' || o.role === 'moderator' || ROLE_RANK[o.role] < ROLE_RANK[role]) o.role = role;
      broadcastPresence(env, room, o, { item });
    }
  }
}
