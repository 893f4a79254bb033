// XEP-0045 messages: to all occupants (§7.4), subject changes (§8.1), private messages (§7.5), mediated
// invitations and declines (§7.8.2), voice requests (§8.6). Room messages are archived before they are
// fanned out (durable before delivered) and carry an XEP-0359 stanza-id and an XEP-0421 occupant-id.
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, type Jid, parseJid, tryParseJid } from '../../xmpp/jid.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import { isArchivable } from '../mam/archivable.ts';
import { newStanzaId, stampStanzaId } from '../mam/stanza-id.ts';
import type { MucEnv } from './env.ts';
import { MUC } from './ns.ts';
import { copy, stampOccupantId } from './occupants.ts';
import { removeOccupant } from './presence.ts';
import { AFFILIATION_RANK, ROLE_RANK, type Occupant, type Room } from './room.ts';
import { handleVoiceApproval, handleVoiceRequest, isVoiceForm } from './voice.ts';

/** The client's message as the room relays it: from the occupant's room JID, no forged muc#user or occupant-id. */
function relayed(stanza: Element, room: Room, o: Occupant): Element {
  const out = copy(stanza);
  out.attrs.from = `${room.jid}/${o.nick}`;
  delete out.attrs.to;
  out.children = out.children.filter((c) => typeof c === 'string' || !(c.name === 'x' && c.attrs.xmlns === MUC.USER));
  stampOccupantId(out, room, o.bare);
  return out;
}

function sender(room: Room, stanza: Element): Occupant {
  const o = room.occupantOfReal(String(stanza.attrs.from));
  // §7.4 / §7.5: only occupants may send to the room or its occupants.
  if (!o) throw new StanzaError('modify', 'not-acceptable', 'only occupants may send messages to the room');
  return o;
}

/**
 * Archives (when the room logs and the message is worth keeping, XEP-0313 §5) and sends `out` to every
 * occupant. Returns the stanza-id.
 */
export async function broadcastMessage(env: MucEnv, room: Room, out: Element, senderBare: string): Promise<string> {
  const id = newStanzaId();
  // XEP-0359 §5: the room stamps its own id, replacing any claimed in its name.
  stampStanzaId(out, room.jid, id);
  const now = Date.now();
  if (room.logs && isArchivable(out)) {
    await env.archive.append(room.jid, { id, ts: now, with: senderBare, xml: out.toString() });
  } else if (!room.logs && out.getChild('body')) {
    room.rememberRecent({ xml: copy(out), at: now, from: senderBare });
  }
  env.fanout(out, room.allReal());
  return id;
}

/** A message to the room's bare JID. */
export async function handleRoomMessage(env: MucEnv, room: Room, stanza: Element): Promise<void> {
  const type = stanza.attrs.type as string | undefined;
  if (type === 'error') {
    const o = room.occupantOfReal(String(stanza.attrs.from));
    if (o) await removeOccupant(env, room, o, { codes: [333] });
    return;
  }
  if (type === 'groupchat') return groupchat(env, room, stanza);
  const x = stanza.getChild('x', MUC.USER);
  if (x?.getChild('invite')) return invite(env, room, stanza, x);
  if (x?.getChild('decline')) return decline(env, room, stanza, x);
  const form = stanza.getChild('x', MUC.DATA);
  if (form && isVoiceForm(form)) {
    const o = sender(room, stanza);
    return form.attrs.type === 'submit' && form.getChildByAttr('var', 'muc#request_allow')
      ? handleVoiceApproval(env, room, o, form)
      : handleVoiceRequest(env, room, o);
  }
  throw new StanzaError('modify', 'bad-request', 'messages to a room are groupchat, invitations or voice requests');
}

async function groupchat(env: MucEnv, room: Room, stanza: Element): Promise<void> {
  const o = sender(room, stanza);
  // §7.4 / §8.5: visitors of a moderated room have no voice.
  if (ROLE_RANK[o.role] < ROLE_RANK.participant) throw new StanzaError('auth', 'forbidden', 'you have no voice in this room');
  const subject = stanza.getChild('subject');
  if (subject && !stanza.getChild('body')) {
    // §8.1: moderators may change the subject; participants only if the room allows it.
    if (o.role !== 'moderator' && !room.config.changeSubject) throw new StanzaError('auth', 'forbidden', 'you may not change the subject');
    room.subject = { text: subject.text(), by: o.nick, at: Date.now() };
    await env.rooms.save(room);
    const out = relayed(stanza, room, o);
    out.attrs.type = 'groupchat';
    env.fanout(out, room.allReal());
    return;
  }
  await broadcastMessage(env, room, relayed(stanza, room, o), o.bare);
}

/** §7.5: a private message to room@service/nick, relayed to that occupant's real JID(s). */
export function handlePrivateMessage(env: MucEnv, room: Room | undefined, stanza: Element, to: Jid): void {
  const type = stanza.attrs.type as string | undefined;
  if (type === 'error') return;
  if (!room) throw new StanzaError('cancel', 'item-not-found', 'no such room');
  const o = sender(room, stanza);
  // §7.5: groupchat messages go to the room, not to one occupant.
  if (type === 'groupchat') throw new StanzaError('modify', 'bad-request', 'groupchat messages go to the room JID');
  const policy = room.config.allowPm;
  const allowed =
    policy === 'anyone' ||
    (policy === 'participants' && ROLE_RANK[o.role] >= ROLE_RANK.participant) ||
    (policy === 'moderators' && o.role === 'moderator');
  if (!allowed) throw new StanzaError('cancel', 'not-allowed', 'private messages are not allowed in this room');
  const target = room.occupants.get(to.resource);
  if (!target) throw new StanzaError('cancel', 'item-not-found', 'no such occupant');
  const out = relayed(stanza, room, o);
  // §7.5: the relayed private message SHOULD carry an empty muc#user <x/> (clients tell it from a 1:1 chat).
  out.append(xml('x', { xmlns: MUC.USER }));
  env.fanout(out, [...target.sessions.keys()]);
}

/** §7.8.2: mediated invitations, relayed by the room from its bare JID. */
async function invite(env: MucEnv, room: Room, stanza: Element, x: Element): Promise<void> {
  const o = sender(room, stanza);
  const affiliation = room.affiliationOf(o.bare);
  // §7.8.2 and muc#roomconfig_allowinvites: unless the room lets occupants invite, only moderators may; in a
  // members-only room only admins and owners (they grant membership by inviting).
  const privileged = room.config.membersOnly ? AFFILIATION_RANK[affiliation] >= AFFILIATION_RANK.admin : o.role === 'moderator';
  if (!room.config.allowInvites && !privileged) throw new StanzaError('auth', 'forbidden', 'you may not invite others to this room');
  for (const inv of x.getChildren('invite')) {
    const invitee = tryParseJid(inv.attrs.to as string | undefined);
    if (!invitee) throw new StanzaError('modify', 'jid-malformed', 'invite needs a to address');
    const inviteeBare = bareOf(invitee);
    // §7.8.2: in a members-only room the service MAY make the invitee a member; we do, so the invitation works.
    if (room.config.membersOnly && room.affiliationOf(inviteeBare) === 'none') await env.rooms.setAffiliation(room, inviteeBare, 'member');
    const reason = inv.getChildText('reason');
    const inner = xml('invite', { from: String(stanza.attrs.from) });
    if (reason !== null) inner.append(xml('reason', {}, reason));
    const ux = xml('x', { xmlns: MUC.USER }, inner);
    if (room.config.passwordProtected) ux.append(xml('password', {}, room.config.password));
    const body = `${bareOf(parseJid(String(stanza.attrs.from)))} invites you to the room ${room.jid}${reason ? `: ${reason}` : ''}`;
    env.ctx.route(xml('message', { from: room.jid, to: inviteeBare, id: newStanzaId() }, ux, xml('body', {}, body)));
  }
}

/** §7.8.2: an invitee declines; the room passes it on to the inviter. */
function decline(env: MucEnv, room: Room, stanza: Element, x: Element): void {
  const d = x.getChild('decline') as Element;
  const inviter = tryParseJid(d.attrs.to as string | undefined);
  if (!inviter) throw new StanzaError('modify', 'jid-malformed', 'decline needs a to address');
  const out = xml('decline', { from: bareOf(parseJid(String(stanza.attrs.from))) });
  const reason = d.getChildText('reason');
  if (reason !== null) out.append(xml('reason', {}, reason));
  env.ctx.route(xml('message', { from: room.jid, to: bareOf(inviter) }, xml('x', { xmlns: MUC.USER }, out)));
}
