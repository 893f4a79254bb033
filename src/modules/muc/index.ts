// XEP-0045 Multi-User Chat as a hosted service: conference.<domain> (ad-hoc rooms) and <waddle>.groups.<domain>
// (Waddle channels). Every stanza for a room reaches the shard owning the room's placement key (its realm,
// src/shard/realm.ts) and is handled there under the room's serial queue, so room state never races.
import { defineModule } from '../../router/module.ts';
import { conferenceDomain, realmOf, waddleOfDomain } from '../../shard/realm.ts';
import { StanzaError, errorReply } from '../../xmpp/errors.ts';
import { bareOf, type Jid } from '../../xmpp/jid.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import { IqRelay } from './iq-relay.ts';
import { KeyedLock } from '../roster/lock.ts';
import type { MucEnv } from './env.ts';
import { handleIq } from './iq.ts';
import { handlePrivateMessage, handleRoomMessage } from './messages.ts';
import { createMucMetrics } from './metrics.ts';
import { handleOccupantPresence, removeOccupant } from './presence.ts';
import { RoomRegistry } from './room-registry.ts';
import { registerPublicRoomsRpc } from './service-items.ts';
import { createWaddleGlue } from './waddle-rooms.ts';

export default defineModule({
  name: 'muc',
  implements: [
    {
      xep: 45,
      name: 'Multi-User Chat',
      version: '1.34.6',
      status: 'partial',
      note: 'user, moderator, admin and owner use cases; no room registration (§7.10), iqs between occupants relayed (vCard to the bare JID); no hats (XEP-0317); no voice-request or nick-change for multi-session occupants',
    },
    { xep: 421, name: 'Occupant identifiers for semi-anonymous MUCs', version: '0.2.0', status: 'complete' },
    {
      xep: 410,
      name: 'MUC Self-Ping (Schrödinger’s Chat)',
      version: '1.1.0',
      status: 'complete',
      note: 'answered by the service (self-ping optimization)',
    },
    {
      xep: 425,
      name: 'Moderated Message Retraction',
      version: '0.3.0',
      status: 'complete',
      note: 'urn:xmpp:message-moderate:1; tombstones in the room archive',
    },
    {
      xep: 249,
      name: 'Direct MUC Invitations',
      version: '1.2',
      status: 'complete',
      note: 'client to client; the server relays them untouched',
    },
  ],
  setup(ctx) {
    const conference = conferenceDomain(ctx.domain);
    const metrics = createMucMetrics(ctx);
    const historyCap = ctx.config.muc.historyMessages;
    const rooms = new RoomRegistry({
      domain: ctx.domain,
      historyCap,
      archiveEnabled: ctx.config.archive.enabled,
      store: ctx.groupStores.rooms,
      archive: ctx.groupStores.archive,
      metrics,
      log: ctx.log,
    });
    const order = new KeyedLock();
    const relay = new IqRelay();
    const env: MucEnv = {
      ctx,
      conference,
      historyCap,
      store: ctx.groupStores.rooms,
      archive: ctx.groupStores.archive,
      rooms,
      metrics,
      waddles: undefined,
      serial: (key, fn) => order.run(key, fn),
      fanout(stanza, recipients) {
        if (recipients.length === 0) return;
        metrics.copies.inc(recipients.length);
        metrics.fanoutSize.observe(recipients.length);
        ctx.fanout(stanza, recipients);
      },
    };

    const waddles = createWaddleGlue(env);
    env.waddles = waddles;
    if (ctx.config.archive.enabled) {
      ctx.every(ctx.config.archive.sweepIntervalSec * 1000, async () => {
        const deleted = await waddles.sweepArchives();
        if (deleted > 0) ctx.log.info({ deleted }, 'room archive retention sweep');
      });
    }
    // Tests and operators may run a sweep now.
    ctx.rpc('muc.sweep-archives', (params) => waddles.sweepArchives((params as { now?: number } | null)?.now));
    ctx.disco.item({ jid: conference, name: 'Chatrooms' });
    registerPublicRoomsRpc(env);

    ctx.service({
      hosts: (domain) => domain === conference || waddleOfDomain(domain, ctx.domain) !== undefined,
      // A room's realm key (its bare JID, or its Waddle's domain); the conference service itself has no
      // state and is answered by the shard owning its domain name.
      placementKey: (to) => realmOf(to.local, to.domain, ctx.domain)?.key ?? to.domain,
      deliver: (stanza, to) => order.run(to.local ? bareOf(to) : to.domain, () => dispatch(env, relay, stanza, to)),
    });
  },
});

async function dispatch(env: MucEnv, relay: IqRelay, stanza: Element, to: Jid): Promise<void> {
  if (stanza.attrs.from === undefined) return;
  if (stanza.name === 'iq') {
    if (to.local && to.resource && !isSelfPing(env, stanza, to)) {
      const type = stanza.attrs.type;
      if (type === 'result' || type === 'error') return relay.response(env, stanza, to);
      return relay.request(env, stanza, to);
    }
    return answerIq(env, stanza, to);
  }
  if (stanza.name === 'presence') {
    if (to.local && to.resource) return handleOccupantPresence(env, stanza, to);
    // §7.2.1: entering needs a nick; presence to the room's bare JID is refused.
    if (to.local && stanza.attrs.type === undefined) throw new StanzaError('modify', 'jid-malformed', 'join with room@service/nick');
    return;
  }
  if (stanza.name !== 'message') return;
  if (!to.local) {
    if (stanza.attrs.type !== 'error') throw new StanzaError('cancel', 'service-unavailable');
    return;
  }
  const room = await env.rooms.get(bareOf(to));
  if (to.resource) {
    if (stanza.attrs.type === 'error') {
      // A relayed message bounced: the occupant's resource is gone (status 333).
      const o = room?.occupantOfReal(String(stanza.attrs.from));
      if (room && o) await removeOccupant(env, room, o, { codes: [333] });
      return;
    }
    return handlePrivateMessage(env, room, stanza, to);
  }
  if (!room) {
    if (stanza.attrs.type !== 'error') throw new StanzaError('cancel', 'item-not-found', 'no such room');
    return;
  }
  return handleRoomMessage(env, room, stanza);
}

/** XEP-0410 §3.1: a ping to one's own occupant JID is the service's to answer (never relayed). */
function isSelfPing(env: MucEnv, stanza: Element, to: Jid): boolean {
  const ping = stanza.getChild('ping', 'urn:xmpp:ping');
  if (!ping || stanza.attrs.type !== 'get') return false;
  const room = env.rooms.peek(bareOf(to));
  const o = room?.occupantOfReal(String(stanza.attrs.from));
  // Not joined (or joined under another nick): the service answers not-acceptable (occupantIq).
  return !o || o.nick === to.resource;
}

/** The service answers its iqs itself (it is not a user account): result or error, routed to the sender. */
async function answerIq(env: MucEnv, stanza: Element, to: Jid): Promise<void> {
  const type = stanza.attrs.type;
  if (type !== 'get' && type !== 'set') return;
  let reply: Element;
  try {
    const payload = await handleIq(env, stanza, to);
    const attrs = { type: 'result', id: String(stanza.attrs.id ?? ''), from: String(stanza.attrs.to), to: String(stanza.attrs.from) };
    reply = payload ? xml('iq', attrs, payload) : xml('iq', attrs);
  } catch (err) {
    if (!(err instanceof StanzaError)) env.ctx.log.error({ err, to: stanza.attrs.to, from: stanza.attrs.from }, 'muc iq failed');
    reply = errorReply(stanza, err instanceof StanzaError ? err : new StanzaError('cancel', 'internal-server-error'));
  }
  env.ctx.route(reply);
}
