// XEP-0199: XMPP Ping. The server answers pings to itself and, on behalf of the account, to a bare JID.
import { defineModule } from '../../router/module.ts';
import { NS } from '../../xmpp/ns.ts';

export default defineModule({
  name: 'ping',
  implements: [{ xep: 199, name: 'XMPP Ping', version: '2.0.1', status: 'complete' }],
  setup(ctx) {
    ctx.disco.feature(NS.PING);
    ctx.iq.get(NS.PING, 'ping', () => undefined);
  },
});
