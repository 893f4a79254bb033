// RFC 6121 presence sent by a local session (the 'stanza:outbound' hook on the user's home shard):
// broadcast (§4.2, §4.4, §4.5), directed presence (§4.6) and the user's side of subscriptions (§3, A.2).
import type { HookResult } from '../../router/hooks.ts';
import type { ModuleContext } from '../../router/module.ts';
import type { SessionRecord } from '../../router/module.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, fullOf, type Jid } from '../../xmpp/jid.ts';
import type { Element } from '../../xmpp/xml.ts';
import { applySubscription } from '../roster/push.ts';
import { becomeAvailable, becomeUnavailable, sendPresenceOfResources, sendUnavailableOfResources } from './broadcast.ts';
import { readdress } from './codec.ts';
import { hasFrom, isSubscriptionType, type SubscriptionType } from './subscription.ts';

const handled = (): HookResult => 'handled';

/** Returns 'handled' when this module sent (or deliberately dropped) the stanza, undefined to let the router route it. */
export function handleOutbound(
  ctx: ModuleContext,
  session: SessionRecord,
  stanza: Element,
  to: Jid | undefined,
): HookResult | Promise<HookResult> {
  const type = stanza.attrs.type as string | undefined;
  if (!to) {
    // §4.2.1 / §4.4.1 / §4.5.1: no 'to' and no type (or unavailable) is for the server to broadcast.
    if (type === undefined) return becomeAvailable(ctx, session, stanza).then(handled);
    if (type === 'unavailable') return becomeUnavailable(ctx, session, stanza).then(handled);
    return 'handled'; // a subscription stanza or probe without an addressee means nothing
  }
  if (isSubscriptionType(type)) return outboundSubscription(ctx, session, stanza, to, type).then(handled);
  // §4.3: probes are sent by servers on the user's behalf; one from a client is dropped.
  if (type === 'probe') return 'handled';
  if (type === undefined || type === 'unavailable') return trackDirected(ctx, session, to, type === 'unavailable');
  if (type === 'error') return undefined;
  throw new StanzaError('modify', 'bad-request', `unknown presence type "${type}"`);
}

/**
 * §4.6.2: directed presence is routed as it is (by the router, after this hook); the server remembers the
 * addressee so it gets unavailable presence when the session goes offline (§4.6.3) — unless it will get
 * the broadcast anyway as a From/Both subscriber of an available session. Directed unavailable forgets it.
 */
async function trackDirected(ctx: ModuleContext, session: SessionRecord, to: Jid, isUnavailable: boolean): Promise<HookResult> {
  const contact = bareOf(to);
  if (contact === session.bare) return undefined; // own resources hear about the session anyway
  const key = fullOf(to);
  if (isUnavailable) {
    session.directedTo.delete(key);
    return undefined;
  }
  if (session.available) {
    const item = await ctx.stores.roster.get(session.bare, contact);
    if (item && hasFrom(item.subscription)) return undefined;
  }
  session.directedTo.add(key);
  return undefined;
}

/**
 * §3.1.2, §3.2.2, §3.3.2, §3.1.5, §3.4: the roster module applies RFC 6121 A.2 to the user's item (and pushes
 * it); the stanza then goes to the contact stamped with the user's bare JID (§3.1.2: subscriptions are
 * between bare JIDs), unless it was a pre-approval, which stays on this server.
 */
async function outboundSubscription(
  ctx: ModuleContext,
  session: SessionRecord,
  stanza: Element,
  to: Jid,
  type: SubscriptionType,
): Promise<void> {
  const contact = bareOf(to);
  // A user is implicitly subscribed to its own presence (§4.2.2); the roster module refuses a self item too.
  if (contact === session.bare) return;
  const { outcome } = await applySubscription(ctx, { jid: session.bare, contact, direction: 'out', type });
  if (outcome.route) ctx.route(readdress(stanza, session.bare, contact));
  // §3.1.5: after approving, the contact gets the user's current presence; §3.2.2: after cancelling, unavailable.
  if (outcome.sendPresence) sendPresenceOfResources(ctx, session.bare, contact);
  if (outcome.sendUnavailable) sendUnavailableOfResources(ctx, session.bare, contact);
}
