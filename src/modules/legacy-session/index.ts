// RFC 3921 §3 session establishment, kept by RFC 6121 as optional (the stream advertises
// <session><optional/></session>): old clients still send it after binding, and it is a no-op.
import { defineModule } from '../../router/module.ts';
import { NS } from '../../xmpp/ns.ts';

export default defineModule({
  name: 'legacy-session',
  setup(ctx) {
    ctx.iq.set(NS.SESSION, 'session', () => undefined);
  },
});
