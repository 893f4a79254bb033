// RFC 6121 presence arriving for a local user at the user's home shard: delivery (§8.5.2, §8.5.3),
// probes (§4.3.2) and the contact's side of subscriptions (§3, Appendix A.3).
import type { HookResult } from '../../router/hooks.ts';
import type { ModuleContext } from '../../router/module.ts';
import { bareOf, type Jid, tryParseJid } from '../../xmpp/jid.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import type { KeyedLock } from '../roster/lock.ts';
import { applySubscription } from '../roster/push.ts';
import { sendPresenceOfResources, sendUnavailableOfResources } from './broadcast.ts';
import { readdress, unavailable } from './codec.ts';
import { hasFrom, isSubscriptionType, type SubscriptionType } from './subscription.ts';

/**
 * Presence for one user is handled in arrival order: a contact's 'subscribed' followed by its presence
 * (§3.1.5) must reach the client in that order although the first waits for the roster. `order` holds the
 * user's pending work; plain presence skips it (no Promise) when nothing is pending.
 */
export function handleInbound(ctx: ModuleContext, order: KeyedLock, stanza: Element, to: Jid): HookResult | Promise<HookResult> {
  const from = tryParseJid(stanza.attrs.from as string | undefined);
  if (!from) return 'handled';
  const bare = bareOf(to);
  const type = stanza.attrs.type as string | undefined;
  if (type === undefined || type === 'unavailable' || type === 'error') {
    if (!order.busy(bare)) deliver(ctx, stanza, to);
    else return order.run(bare, async () => deliver(ctx, stanza, to)).then(handled);
    return 'handled';
  }
  if (type === 'probe') return order.run(bare, () => answerProbe(ctx, stanza, bare, from)).then(handled);
  if (isSubscriptionType(type)) return order.run(bare, () => inboundSubscription(ctx, stanza, bare, bareOf(from), type)).then(handled);
  return 'handled'; // RFC 6121 §4.7.1 defines no other type: nothing to deliver
}

const handled = (): HookResult => 'handled';

/**
 * §8.5.2.1.2: to the bare JID → every available resource; none → silently dropped (§8.5.2.2.2).
 * §8.5.3.1: to a full JID → that resource if it is connected (directed presence needs no availability);
 * otherwise dropped (§8.5.3.2.2). Errors follow the same path (they answer our own subscriptions/probes).
 */
function deliver(ctx: ModuleContext, stanza: Element, to: Jid): void {
  const bare = bareOf(to);
  if (to.resource) {
    const session = ctx.sessions.get(bare, to.resource);
    if (session && !session.closed) ctx.sendToSession(session, stanza);
    return;
  }
  for (const s of ctx.sessions.ofUser(bare)) if (s.available && !s.closed) ctx.sendToSession(s, stanza);
}

/** §4.3.2: only a subscriber (From/Both in the user's roster) learns the user's presence. */
async function answerProbe(ctx: ModuleContext, stanza: Element, bare: string, from: Jid): Promise<void> {
  const contact = bareOf(from);
  const replyTo = String(stanza.attrs.from);
  const item = contact === bare ? undefined : await ctx.stores.roster.get(bare, contact);
  if (!item || !hasFrom(item.subscription)) {
    // §4.3.2: nothing is revealed; 'unsubscribed' lets the prober's server drop a 'to' it should not have.
    if (contact !== bare) ctx.route(xml('presence', { from: bare, to: contact, type: 'unsubscribed' }));
    return;
  }
  // §4.3.2: each available resource's presence; with none, unavailable from the bare JID (the server
  // keeps no last unavailable presence to replay).
  if (sendPresenceOfResources(ctx, bare, replyTo) === 0) ctx.route(unavailable(bare, replyTo));
}

async function inboundSubscription(
  ctx: ModuleContext,
  stanza: Element,
  bare: string,
  contact: string,
  type: SubscriptionType,
): Promise<void> {
  if (contact === bare) return; // our own server never sends these to itself (outbound drops self-subscriptions)
  if (type === 'subscribe' && !(await accountExists(ctx, bare))) {
    // §3.1.3: a request for an account that does not exist is answered 'unsubscribed', and no roster is created.
    ctx.route(xml('presence', { from: bare, to: contact, type: 'unsubscribed' }));
    return;
  }
  const { outcome } = await applySubscription(ctx, { jid: bare, contact, direction: 'in', type });
  if (outcome.deliver) {
    // §3.1.3 and A.3: subscription stanzas reach the user's available resources (roster pushes, already
    // sent by the roster module, reach the interested ones), addressed bare-to-bare.
    const request = readdress(stanza, contact, bare);
    for (const s of ctx.sessions.ofUser(bare)) if (s.available && !s.closed) ctx.sendToSession(s, request);
  }
  if (outcome.autoReply) ctx.route(xml('presence', { from: bare, to: contact, type: 'subscribed' }));
  if (outcome.sendPresence) sendPresenceOfResources(ctx, bare, contact);
  if (outcome.sendUnavailable) sendUnavailableOfResources(ctx, bare, contact);
}

async function accountExists(ctx: ModuleContext, bare: string): Promise<boolean> {
  if (ctx.sessions.ofUser(bare).length > 0) return true;
  return (await ctx.stores.accounts.get(bare)) !== undefined;
}
