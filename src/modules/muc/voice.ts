// XEP-0045 §8.6: a visitor asks for voice with a muc#request form; the room sends an approval form to the
// moderators; a moderator who submits it with muc#request_allow true grants voice.
import { StanzaError } from '../../xmpp/errors.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import { formValues } from './config-form.ts';
import type { MucEnv } from './env.ts';
import { MUC } from './ns.ts';
import { broadcastPresence } from './occupants.ts';
import type { Occupant, Room } from './room.ts';

export function isVoiceForm(form: Element): boolean {
  return formValues(form).get('FORM_TYPE')?.[0] === MUC.REQUEST;
}

function field(v: string, type: string, value: string, label?: string): Element {
  return xml('field', { var: v, type, ...(label ? { label } : {}) }, xml('value', {}, value));
}

export function handleVoiceRequest(env: MucEnv, room: Room, o: Occupant): void {
  // §8.6: only visitors ask; a participant already has voice.
  if (o.role !== 'visitor') return;
  const form = xml(
    'x',
    { xmlns: MUC.DATA, type: 'form' },
    xml('title', {}, 'Voice request'),
    xml('instructions', {}, `To approve this request for voice, select the "Grant voice" checkbox and submit.`),
    field('FORM_TYPE', 'hidden', MUC.REQUEST),
    field('muc#role', 'list-single', 'participant', 'Requested role'),
    field('muc#jid', 'jid-single', o.current, 'User ID'),
    field('muc#roomnick', 'text-single', o.nick, 'Room Nickname'),
    field('muc#request_allow', 'boolean', 'false', 'Grant voice to this person?'),
  );
  const moderators: string[] = [];
  for (const m of room.occupants.values()) if (m.role === 'moderator') moderators.push(...m.sessions.keys());
  env.fanout(xml('message', { from: room.jid }, form), moderators);
}

export function handleVoiceApproval(env: MucEnv, room: Room, moderator: Occupant, form: Element): void {
  if (moderator.role !== 'moderator') throw new StanzaError('auth', 'forbidden', 'only moderators may grant voice');
  const values = formValues(form);
  const allow = values.get('muc#request_allow')?.[0];
  if (allow !== 'true' && allow !== '1') return;
  const target = room.occupants.get(values.get('muc#roomnick')?.[0] ?? '');
  if (target?.role !== 'visitor') return;
  target.role = 'participant';
  broadcastPresence(env, room, target, { item: { actorNick: moderator.nick } });
}
