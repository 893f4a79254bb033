// What the stream layer (not a module) implements, for the README's generated table (npm run doap).
import type { XepClaim } from '../router/module.ts';

export const STREAM_CLAIMS: readonly XepClaim[] = [
  {
    rfc: 6120,
    name: 'XMPP Core: STARTTLS, SASL (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN over TLS), resource binding, stream and stanza errors',
    status: 'complete',
    note: 'restricted XML enforced; max stanza size; idle ping; no server-to-server yet',
  },
  { rfc: 7622, name: 'XMPP Address Format', status: 'partial', note: 'case folding with NFKC; no full PRECIS profiles' },
  { xep: 368, name: 'SRV records for XMPP over TLS (direct TLS port, ALPN xmpp-client)', version: '1.1.0', status: 'complete' },
  { xep: 203, name: 'Delayed Delivery (on offline messages)', version: '2.0', status: 'complete' },
  {
    xep: 388,
    name: 'Extensible SASL Profile (SASL2)',
    version: '1.0.4',
    status: 'partial',
    note: 'no <continue/> tasks (2FA, SCRAM upgrade); inline Bind2, XEP-0198 resumption',
  },
  {
    xep: 386,
    name: 'Bind 2',
    version: '1.0.0',
    status: 'complete',
    note: 'resource = tag + a part stable per user agent; inline XEP-0198',
  },
];
