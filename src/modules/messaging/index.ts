// RFC 6121 §8.5: delivery of messages addressed to a local user (bare or full JID), at the user's
// home shard. What is left unhandled here (normal/chat with no non-negative available resource) falls
// through to the Fallback priority, where the offline module stores it; if nothing handles it, the
// router answers service-unavailable (RFC 6121 §8.5.2.2.1 option b).
import type { ModuleContext } from '../../router/module.ts';
import { defineModule, Priority } from '../../router/module.ts';
import type { SessionRecord } from '../../router/module.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, type Jid } from '../../xmpp/jid.ts';
import type { Element } from '../../xmpp/xml.ts';
import { AccountCache } from './account-cache.ts';
import { type MessageType, messageType, mostAvailable, nonNegativeAvailable } from './delivery-rules.ts';

type Outcome = 'handled' | undefined;

/**
 * Hooks run synchronously when they can; a StanzaError is handed to the router as a rejected promise,
 * which it turns into an error reply (and never answers an error with an error).
 */
function refuse(): Promise<never> {
  return Promise.reject(new StanzaError('cancel', 'service-unavailable'));
}

export default defineModule({
  name: 'messaging',
  implements: [{ rfc: 6121, name: 'Message delivery rules (RFC 6121 §8.5)', status: 'complete' }],
  setup(ctx) {
    const accounts = new AccountCache({ positiveTtlMs: 30_000, negativeTtlMs: 5_000, maxEntries: 10_000 });

    ctx.hooks.on(
      'message:inbound',
      ({ stanza, to }) => {
        const bare = bareOf(to);
        const sessions = ctx.sessions.ofUser(bare);
        // Sessions imply the account exists; only a user with none needs the §8.5.1 lookup.
        if (sessions.length > 0) return deliver(ctx, stanza, to, bare, sessions);
        const known = accounts.get(bare, Date.now());
        if (known === true) return deliver(ctx, stanza, to, bare, sessions);
        if (known === false) return noSuchUser(stanza);
        return ctx.stores.accounts.get(bare).then((account) => {
          accounts.set(bare, account !== undefined, Date.now());
          if (!account) return noSuchUser(stanza);
          // Sessions may have been bound while we waited.
          return deliver(ctx, stanza, to, bare, ctx.sessions.ofUser(bare));
        });
      },
      Priority.Default,
    );
  },
});

/** RFC 6121 §8.5.1: for a message to an account that does not exist, ignore it or answer service-unavailable. */
function noSuchUser(stanza: Element): Outcome | Promise<never> {
  // We answer (so the sender learns the address is dead), except errors, which are never answered.
  return messageType(stanza) === 'error' ? 'handled' : refuse();
}

function deliver(ctx: ModuleContext, stanza: Element, to: Jid, bare: string, sessions: readonly SessionRecord[]): Outcome | Promise<never> {
  const type = messageType(stanza);
  if (to.resource) {
    // RFC 6121 §8.5.3.1: a connected resource that exactly matches gets the message, whatever its type
    // and whether or not it has sent presence.
    const session = ctx.sessions.get(bare, to.resource);
    if (session && !session.closed) {
      ctx.sendToSession(session, stanza);
      notifyDelivered(ctx, stanza, to, [session]);
      return 'handled';
    }
    // RFC 6121 §8.5.3.2.1, no resource matches:
    //  - chat: treat as addressed to the bare JID (deliver to non-negative resources, else offline/bounce);
    //  - normal, groupchat, headline: ignore or bounce. We bounce normal and groupchat with
    //    service-unavailable so the sender learns the resource is gone (the RFC does not allow
    //    redirecting "normal" to the bare JID), and drop headlines, which are not worth an error;
    //  - error: MUST be silently ignored.
    if (type === 'chat') return toBareJid(ctx, stanza, to, type, sessions);
    if (type === 'normal' || type === 'groupchat') return refuse();
    return 'handled';
  }
  return toBareJid(ctx, stanza, to, type, sessions);
}

/** RFC 6121 §8.5.2: a message addressed to <localpart@domainpart>. The 'to' is never rewritten. */
function toBareJid(
  ctx: ModuleContext,
  stanza: Element,
  to: Jid,
  type: MessageType,
  sessions: readonly SessionRecord[],
): Outcome | Promise<never> {
  // §8.5.2.1.1 and §8.5.2.2.1: an error message to the bare JID MUST be silently ignored.
  if (type === 'error') return 'handled';
  // §8.5.2.1.1 and §8.5.2.2.1: groupchat MUST NOT be delivered; the error SHOULD be service-unavailable.
  if (type === 'groupchat') return refuse();
  const candidates = nonNegativeAvailable(sessions);
  if (type === 'headline') {
    // §8.5.2.1.1: headlines go to every non-negative resource; with none, they MUST be silently ignored
    // (§8.5.2.2.1 too: never stored offline).
    for (const s of candidates) ctx.sendToSession(s, stanza);
    if (candidates.length > 0) notifyDelivered(ctx, stanza, to, candidates);
    return 'handled';
  }
  // normal/chat with no non-negative available resource: store offline or bounce (§8.5.2.1.1,
  // §8.5.2.2.1) — left to the offline module at Priority.Fallback, then to the router's bounce.
  if (candidates.length === 0) return undefined;
  const targets = mostAvailable(candidates);
  for (const s of targets) ctx.sendToSession(s, stanza);
  notifyDelivered(ctx, stanza, to, targets);
  return 'handled';
}

/**
 * Tells other modules who got the original (XEP-0280 §7: carbons go to the resources that "did not
 * receive it under the RFC 6121 delivery rules"). A notification: a failing listener is only logged.
 */
function notifyDelivered(ctx: ModuleContext, stanza: Element, to: Jid, delivered: readonly SessionRecord[]): void {
  const r = ctx.hooks.fire('message:delivered', { stanza, to, delivered });
  if (r instanceof Promise) r.catch((err: unknown) => ctx.log.error({ err }, 'message:delivered listener failed'));
}
