// XEP-0092: Software Version, answered for the server's own domain only.
import { readFileSync } from 'node:fs';
import { defineModule } from '../../router/module.ts';
import { NS } from '../../xmpp/ns.ts';
import { xml } from '../../xmpp/xml.ts';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export default defineModule({
  name: 'version',
  implements: [{ xep: 92, name: 'Software Version', version: '1.1', status: 'complete' }],
  setup(ctx) {
    ctx.disco.feature(NS.VERSION, 'server');
    // The OS is left out on purpose: XEP-0092 §3 makes it optional and it helps attackers.
    ctx.iq.get(NS.VERSION, 'query', () => xml('query', { xmlns: NS.VERSION }, xml('name', {}, 'waddle'), xml('version', {}, pkg.version)), [
      'server',
    ]);
  },
});
