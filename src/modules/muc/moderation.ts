// XEP-0425 v0.3 (urn:xmpp:message-moderate:1) moderated retraction: a moderator asks the room to retract a
// message by its stanza-id; the room tells every occupant (an XEP-0424 <retract/> with <moderated/>) and its
// archive keeps a tombstone instead of the message (XEP-0425 §5, XEP-0424 §6).
import { StanzaError } from '../../xmpp/errors.ts';
import { parseElement } from '../../xmpp/stream-parser.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import type { MucEnv } from './env.ts';
import { broadcastMessage } from './messages.ts';
import { MUC } from './ns.ts';
import { occupantId } from './occupants.ts';
import type { Occupant, Room } from './room.ts';

function moderated(room: Room, moderator: Occupant): Element {
  return xml(
    'moderated',
    { xmlns: MUC.MODERATE, by: `${room.jid}/${moderator.nick}` },
    xml('occupant-id', { xmlns: MUC.OCCUPANT_ID, id: occupantId(room, moderator.bare) }),
  );
}

/**
 * XEP-0425 §5 tombstone: the message's addresses, id and identifying elements stay; its content is replaced
 * by <retracted/> holding <moderated/> and the reason.
 */
export function moderationTombstone(stored: Element, room: Room, moderator: Occupant, reason: string | null, now: number): Element {
  const keep = stored
    .getChildElements()
    .filter(
      (c) => (c.name === 'occupant-id' && c.attrs.xmlns === MUC.OCCUPANT_ID) || (c.name === 'stanza-id' && c.attrs.xmlns === MUC.SID),
    );
  const retracted = xml('retracted', { xmlns: MUC.RETRACT, stamp: new Date(now).toISOString() }, moderated(room, moderator));
  if (reason !== null) retracted.append(xml('reason', {}, reason));
  return xml('message', { ...stored.attrs }, ...keep, retracted);
}

export async function handleModerate(env: MucEnv, room: Room, real: string, payload: Element): Promise<void> {
  const o = room.occupantOfReal(real);
  if (o?.role !== 'moderator') throw new StanzaError('auth', 'forbidden', 'only moderators may moderate messages');
  const id = payload.attrs.id as string | undefined;
  if (!id) throw new StanzaError('modify', 'bad-request', 'moderate needs the stanza-id of the message');
  // v0.3 defines only retraction as a moderation action.
  if (!payload.getChild('retract', MUC.RETRACT)) throw new StanzaError('cancel', 'feature-not-implemented', 'only retraction is supported');
  const reason = payload.getChildText('reason');
  const now = Date.now();
  if (room.logs) {
    const stored = await env.archive.get(room.jid, id);
    if (!stored) throw new StanzaError('cancel', 'item-not-found', 'no message with that id in this room');
    const tomb = moderationTombstone(parseElement(stored.xml), room, o, reason, now);
    await env.archive.replace(room.jid, id, tomb.toString());
  } else {
    const i = room.recent.findIndex((r) => r.xml.getChild('stanza-id', MUC.SID)?.attrs.id === id);
    if (i === -1) throw new StanzaError('cancel', 'item-not-found', 'no message with that id in this room');
    room.recent.splice(i, 1);
  }
  const retract = xml('retract', { xmlns: MUC.RETRACT, id }, moderated(room, o));
  if (reason !== null) retract.append(xml('reason', {}, reason));
  // XEP-0428 fallback for clients without retraction support.
  const notice = xml(
    'message',
    { from: room.jid, type: 'groupchat' },
    retract,
    xml('body', {}, 'This message has been retracted by a moderator.'),
  );
  notice.append(xml('fallback', { xmlns: 'urn:xmpp:fallback:0', for: MUC.RETRACT }));
  notice.append(xml('store', { xmlns: 'urn:xmpp:hints' }));
  await broadcastMessage(env, room, notice, o.bare);
  env.ctx.log.info({ room: room.jid, jid: o.bare, id }, 'message moderated');
}
