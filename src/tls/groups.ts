// `[tls] groups`: which key-exchange groups the server offers, as Node TLS options.
//
// Unset, OpenSSL 3.5 prefers the hybrid post-quantum group X25519MLKEM768, which current clients
// (Node, recent browsers and OpenSSL-based XMPP clients) negotiate. It costs ~5% more CPU per login than
// X25519 alone (bench/RESULTS.md, session 3); operators who need cheaper handshakes more than post-quantum
// protection may choose "X25519:P-256". (A minimal Node server also kept ~7.6 KB less per idle connection
// with X25519 only, but waddle at 5,000 connections showed no difference: same RESULTS section.)
import type { Config } from '../config/schema.ts';

export function tlsGroups(config: Config): { ecdhCurve?: string } {
  return config.tls.groups === null ? {} : { ecdhCurve: config.tls.groups };
}
