// RFC 6121 §3 (subscriptions, with §3.4 pre-approval) and §4 (presence): broadcast, probes, directed
// presence, and unavailable presence when a session ends. Roster state changes go through the roster
// module (dependsOn), which persists and pushes them; this module routes and delivers the stanzas.
import { defineModule } from '../../router/module.ts';
import { NS } from '../../xmpp/ns.ts';
import { xml } from '../../xmpp/xml.ts';
import { KeyedLock } from '../roster/lock.ts';
import { becomeUnavailable } from './broadcast.ts';
import { handleInbound } from './inbound.ts';
import { handleOutbound } from './outbound.ts';

export default defineModule({
  name: 'presence',
  dependsOn: ['roster'],
  implements: [
    { rfc: 6121, name: 'Presence and presence subscriptions (incl. §3.4 pre-approval)', status: 'complete' },
    { xep: 115, name: 'Entity Capabilities', version: '1.6.0', status: 'complete', note: 'caps <c/> elements are forwarded untouched' },
  ],
  setup(ctx) {
    // §3.4: pre-approval support is announced as a stream feature.
    ctx.streamFeature(() => xml('sub', { xmlns: NS.PRE_APPROVAL }));

    ctx.hooks.on('stanza:outbound', ({ session, stanza, to }) => {
      if (stanza.name !== 'presence') return undefined;
      return handleOutbound(ctx, session, stanza, to);
    });

    const inboundOrder = new KeyedLock();
    ctx.hooks.on('presence:inbound', ({ stanza, to }) => handleInbound(ctx, inboundOrder, stanza, to));

    // §4.5.2: a session that ends without unavailable presence gets one generated on its behalf, sent to
    // the same entities an explicit one would reach (directed-presence recipients included, §4.6.3).
    ctx.hooks.on('session:unbound', ({ session }) => {
      if (!session.available && session.directedTo.size === 0) return undefined;
      return becomeUnavailable(ctx, session, null);
    });
  },
});
