// XEP-0030: Service Discovery. Features and identities are whatever the loaded modules declared
// through ctx.disco, so what is advertised is exactly what is implemented.
import { defineModule } from '../../router/module.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import type { Jid } from '../../xmpp/jid.ts';
import { NS } from '../../xmpp/ns.ts';
import { xml } from '../../xmpp/xml.ts';

export default defineModule({
  name: 'disco',
  implements: [{ xep: 30, name: 'Service Discovery', version: '2.5rc3', status: 'complete' }],
  setup(ctx) {
    ctx.disco.feature(NS.DISCO_INFO);
    ctx.disco.feature(NS.DISCO_ITEMS);
    ctx.disco.identity({ category: 'server', type: 'im', name: 'Waddle' }, 'server');
    // RFC 6121 / XEP-0030 §3.1: a bare account JID answers as account/registered.
    ctx.disco.identity({ category: 'account', type: 'registered' }, 'account');
    ctx.iq.get(NS.DISCO_INFO, 'query', (req) => {
      const node = req.payload.attrs.node as string | undefined;
      // No nodes yet: an unknown node is item-not-found (XEP-0030 §3.1, example 6).
      if (node !== undefined) throw new StanzaError('cancel', 'item-not-found');
      // Account features are shown to the account itself only, until presence-based access lands.
      if (req.scope === 'account' && !isSelf(req.from, req.to)) throw new StanzaError('auth', 'forbidden');
      const info = ctx.discoInfo(req.scope);
      const query = xml('query', { xmlns: NS.DISCO_INFO });
      for (const id of info.identities)
        query.append(xml('identity', { category: id.category, type: id.type, ...(id.name ? { name: id.name } : {}) }));
      for (const f of info.features) query.append(xml('feature', { var: f }));
      return query;
    });
    ctx.iq.get(NS.DISCO_ITEMS, 'query', (req) => {
      if (req.scope === 'account' && !isSelf(req.from, req.to)) throw new StanzaError('auth', 'forbidden');
      const query = xml('query', { xmlns: NS.DISCO_ITEMS });
      // XEP-0030 §4: the server lists its hosted services (conference.<domain>, …) as items.
      if (req.scope === 'server' && req.payload.attrs.node === undefined) {
        for (const item of ctx.discoItems()) {
          query.append(
            xml('item', { jid: item.jid, ...(item.name ? { name: item.name } : {}), ...(item.node ? { node: item.node } : {}) }),
          );
        }
      }
      return query;
    });
  },
});

function isSelf(from: Jid, to: Jid): boolean {
  return from.local === to.local && from.domain === to.domain;
}
