// `[tls] groups`: which key-exchange groups the server offers, as Node TLS options.
//
// Unset, OpenSSL 3.5 prefers the hybrid post-quantum group X25519MLKEM768, which current clients
// (Node, recent browsers and OpenSSL-based XMPP clients) negotiate. It costs more per handshake and
// ~7.6 KB more per open connection than X25519 alone (bench/RESULTS.md, "Idle memory per connection"),
// so operators with many idle connections may choose "X25519:P-256" and give up the PQ protection.
import type { Config } from '../config/schema.ts';

export function tlsGroups(config: Config): { ecdhCurve?: string } {
  return config.tls.groups === null ? {} : { ecdhCurve: config.tls.groups };
}
