// Iqs between occupants (XEP-0045 §7.5 addressing; what Prosody and ejabberd do): a request to
// room@service/nick is relayed to that occupant with the sender's occupant JID as `from`, under a fresh id,
// and the answer comes back the same way. The id map lives here, never in the stanza: an id that encoded
// the sender would reveal its real JID to the other occupant in a semi-anonymous room.
// vCard requests go to the occupant's bare JID (the server answers for the account, as for avatars).
import { randomBytes } from 'node:crypto';
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, type Jid } from '../../xmpp/jid.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import type { MucEnv } from './env.ts';

/** Outstanding relayed requests per shard; the oldest are forgotten first (an answer that never comes). */
const MAX_PENDING = 10_000;
const VCARD_NS = 'vcard-temp';

interface Pending {
  /** The asking occupant's real full JID and its iq id. */
  from: string;
  id: string;
  /** Who must answer: the JID we relayed to. */
  to: string;
  /** The occupant JID of the asked occupant (the answer's `from`). */
  asked: string;
}

export class IqRelay {
  readonly #pending = new Map<string, Pending>();

  /** A get/set to room/nick from one of the room's occupants. */
  async request(env: MucEnv, stanza: Element, to: Jid): Promise<void> {
    const room = await env.rooms.get(bareOf(to));
    const real = String(stanza.attrs.from);
    const sender = room?.occupantOfReal(real);
    // Only occupants talk to occupants (a non-occupant would learn nothing but could probe nicks).
    if (!room || !sender) throw new StanzaError('cancel', 'not-acceptable', 'only occupants may send iqs to occupants');
    const target = room.occupants.get(to.resource);
    if (!target) throw new StanzaError('cancel', 'item-not-found', `no occupant ${to.resource}`);
    const payload = stanza.getChildElements()[0];
    const dest = payload?.name === 'vCard' && payload.attrs.xmlns === VCARD_NS ? target.bare : target.current;
    const id = randomBytes(9).toString('base64url');
    const key = `${room.jid}\u0000${id}`;
    this.#pending.set(key, { from: real, id: String(stanza.attrs.id ?? ''), to: dest, asked: `${room.jid}/${target.nick}` });
    if (this.#pending.size > MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value as string);
    env.ctx.route(xml('iq', { type: String(stanza.attrs.type), id, from: `${room.jid}/${sender.nick}`, to: dest }, ...stanza.children));
  }

  /** A result or error sent to room/nick: the answer to a relayed request, else dropped. */
  response(env: MucEnv, stanza: Element, to: Jid): void {
    const key = `${bareOf(to)}\u0000${String(stanza.attrs.id ?? '')}`;
    const p = this.#pending.get(key);
    // Only the entity we asked may answer (anyone could guess an id otherwise).
    if (!p || !sameEntity(String(stanza.attrs.from), p.to)) return;
    this.#pending.delete(key);
    env.ctx.route(xml('iq', { type: String(stanza.attrs.type), id: p.id, from: p.asked, to: p.from }, ...stanza.children));
  }
}

/** A reply from a bare JID we asked comes from the account (bare) or, for bare requests, any of its resources' server. */
function sameEntity(from: string, asked: string): boolean {
  if (from === asked) return true;
  return !asked.includes('/') && from.split('/')[0] === asked;
}
