// XEP-0160: Best Practices for Handling Offline Messages. Messages the messaging module could not deliver
// (normal/chat, no non-negative available resource) are stored here at Priority.Fallback and delivered,
// stamped with XEP-0203 <delay/>, when the user next sends non-negative available presence.
import type { ModuleContext } from '../../router/module.ts';
import { defineModule, Priority } from '../../router/module.ts';
import type { SessionRecord } from '../../router/module.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf } from '../../xmpp/jid.ts';
import { NS } from '../../xmpp/ns.ts';
import { parseElement } from '../../xmpp/stream-parser.ts';
import type { Element } from '../../xmpp/xml.ts';
import { delayElement } from './delay.ts';
import { storageDecision } from './storable.ts';

export default defineModule({
  name: 'offline',
  implements: [{ xep: 160, name: 'Best Practices for Handling Offline Messages', version: '1.0.1', status: 'complete' }],
  // The Fallback hook relies on the messaging module having applied RFC 6121 §8.5 first (account exists,
  // no non-negative available resource, type normal/chat).
  dependsOn: ['messaging'],
  setup(ctx) {
    // XEP-0160 §4: a server supporting offline storage SHOULD return the "msgoffline" feature.
    ctx.disco.feature(NS.OFFLINE, 'server');
    /** Users whose offline queue is being delivered right now (so two sessions do not both replay it). */
    const delivering = new Set<string>();

    ctx.hooks.on(
      'message:inbound',
      ({ stanza, to }) => {
        const max = ctx.config.offline.maxPerUser;
        if (max <= 0) return undefined; // storage disabled: the router bounces service-unavailable
        const decision = storageDecision(stanza);
        if (decision === 'drop') return 'handled';
        if (decision === 'refuse') return undefined;
        return ctx.stores.offline.push(bareOf(to), stanza.toString(), Date.now(), max).then((stored) => {
          // XEP-0160 §2 step 3: when the queue is full the server returns service-unavailable.
          if (!stored) throw new StanzaError('cancel', 'service-unavailable', 'offline message storage is full');
          return 'handled' as const;
        });
      },
      Priority.Fallback,
    );

    ctx.hooks.on('session:available', async ({ session }) => {
      // XEP-0160 §2 step 5: delivery happens when the user "next sends non-negative available presence".
      if (session.priority < 0 || delivering.has(session.bare)) return;
      delivering.add(session.bare);
      try {
        await deliverStored(ctx, session);
      } finally {
        delivering.delete(session.bare);
      }
    });
  },
});

/** Sends the user's stored messages, oldest first, to `session`, then deletes the ones handed over. */
async function deliverStored(ctx: ModuleContext, session: SessionRecord): Promise<void> {
  const stored = await ctx.stores.offline.list(session.bare);
  if (stored.length === 0) return;
  const sent: number[] = [];
  for (const m of stored) {
    // A closed session silently drops writes: stop here so the rest stays stored for the next session.
    if (session.closed) break;
    let stanza: Element;
    try {
      stanza = parseElement(m.xml);
    } catch (err) {
      // Unreadable rows would block the queue forever; log and discard them.
      ctx.log.warn({ err, jid: session.bare, id: m.id }, 'dropping unparsable offline message');
      sent.push(m.id);
      continue;
    }
    // XEP-0160 §2: it is RECOMMENDED to add XEP-0203 delay to show the message was stored offline.
    stanza.append(delayElement(ctx.domain, m.stamp, 'Offline Storage'));
    ctx.sendToSession(session, stanza);
    sent.push(m.id);
  }
  // Deleted only once handed to the session's connection. With XEP-0198 stream management this is
  // where deletion should wait for the client's <a/> covering these stanzas instead, so that a
  // connection dropped mid-replay does not lose them.
  if (sent.length > 0) await ctx.stores.offline.remove(session.bare, sent);
}
