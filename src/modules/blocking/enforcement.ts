// XEP-0191 §3.3: what happens to stanzas between a user and a JID on the user's block list. All hooks
// run at Priority.Guard on the blocking user's home shard, before delivery, storage or routing.
import type { ModuleContext } from '../../router/module.ts';
import { Priority } from '../../router/module.ts';
import { StanzaError, errorReply } from '../../xmpp/errors.ts';
import { bareOf, type Jid, tryParseJid } from '../../xmpp/jid.ts';
import type { Element } from '../../xmpp/xml.ts';
import type { BlockListCache } from './block-list-cache.ts';
import { blockedError } from './codec.ts';

type Outcome = 'handled' | undefined;

export function installEnforcement(ctx: ModuleContext, cache: BlockListCache): void {
  /** Whether `owner` (a local bare JID) blocks `other`; synchronous once the owner's list is cached. */
  const blocks = (owner: string, other: Jid): boolean | Promise<boolean> => {
    const list = cache.get(owner);
    return list instanceof Promise ? list.then((l) => l.matches(other)) : list.matches(other);
  };

  /** The sender of an inbound stanza, or undefined when it is exempt from blocking. */
  const blockableSender = (stanza: Element, to: Jid): Jid | undefined => {
    const from = tryParseJid(stanza.attrs.from as string | undefined);
    if (!from) return undefined;
    // The user's own resources and the user's own server (pushes, pings) are never blocked.
    if (from.local === to.local && from.domain === to.domain) return undefined;
    if (!from.local && !from.resource && from.domain === ctx.domain) return undefined;
    return from;
  };

  const inbound = (stanza: Element, to: Jid, onBlocked: (stanza: Element) => Outcome | Promise<never>) => {
    const from = blockableSender(stanza, to);
    if (!from) return undefined;
    return then(blocks(bareOf(to), from), (blocked) => (blocked ? onBlocked(stanza) : undefined));
  };

  // XEP-0191 §3.3: presence (notifications, subscriptions, probes): MUST NOT respond, MUST NOT error.
  ctx.hooks.on('presence:inbound', ({ stanza, to }) => inbound(stanza, to, () => 'handled'), Priority.Guard);
  // XEP-0191 §3.3: messages SHOULD get an error, which SHOULD be service-unavailable (so the user
  // looks offline). The router never answers an error with an error, so type='error' is just dropped.
  ctx.hooks.on('message:inbound', ({ stanza, to }) => inbound(stanza, to, refuseGetSet), Priority.Guard);
  // XEP-0191 §3.3: iq get/set MUST get an error, which SHOULD be service-unavailable; result and
  // error iqs MUST be silently dropped.
  ctx.hooks.on('iq:inbound-full', ({ stanza, to }) => inbound(stanza, to, refuseGetSet), Priority.Guard);
  ctx.hooks.on('iq:inbound-bare', ({ stanza, to }) => inbound(stanza, to, refuseGetSet), Priority.Guard);

  // XEP-0191 §3.3: the user's presence (broadcasts, probes, unavailable) never reaches a blocked JID.
  ctx.hooks.on(
    'presence:broadcast',
    ({ owner, to }) => then(blocks(owner, to), (b): Outcome => (b ? 'handled' : undefined)),
    Priority.Guard,
  );

  // XEP-0191 §3.3: a stanza the user sends to a blocked JID MUST NOT be routed; the server MUST answer
  // not-acceptable with <blocked xmlns='urn:xmpp:blocking:errors'/>.
  ctx.hooks.on(
    'stanza:outbound',
    ({ session, stanza, to }) => {
      if (!to) return undefined; // presence broadcast or an iq to the own account
      if (to.local === session.jid.local && to.domain === session.jid.domain) return undefined;
      if (!to.local && !to.resource && to.domain === ctx.domain) return undefined; // the user's own server
      return then(blocks(session.bare, to), (blocked): Outcome => {
        if (!blocked) return undefined;
        const type = stanza.attrs.type as string | undefined;
        // Never answer an error with an error (RFC 6120 §8.3.1); an iq result has nobody to tell.
        if (type === 'error' || (stanza.name === 'iq' && type === 'result')) return 'handled';
        // Written straight to the session rather than thrown to the router: the router would route the
        // error, whose 'from' is the blocked JID, and our own inbound guard would then drop it.
        ctx.sendToSession(session, errorReply(stanza, blockedError()));
        return 'handled';
      });
    },
    Priority.Guard,
  );
}

/** Errors for message and iq get/set; errors (and iq results) are dropped without an answer. */
function refuseGetSet(stanza: Element): Outcome | Promise<never> {
  const type = stanza.attrs.type as string | undefined;
  if (type === 'error' || (stanza.name === 'iq' && type === 'result')) return 'handled';
  return Promise.reject(new StanzaError('cancel', 'service-unavailable'));
}

/** Applies `f` now if `value` is ready, else when it resolves (keeps the warm path free of promises). */
function then<T, R>(value: T | Promise<T>, f: (v: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}
