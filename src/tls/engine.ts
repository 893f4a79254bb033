// `[tls] engine`: which code terminates client TLS on a shard. 'lean' (src/tls/lean) keeps ~20 KB less
// per open connection than node:tls (bench/RESULTS.md, "Lean TLS"); 'node' is node:tls itself; 'auto'
// takes lean when its addon was built by `npm ci` and falls back to node:tls with a warning otherwise.
import type { Config } from '../config/schema.ts';
import { LeanTlsContext, leanTls, leanTlsLoadError } from './lean/index.ts';

export interface LeanTlsContexts {
  /** For STARTTLS on the plain port (no ALPN). */
  readonly starttls: LeanTlsContext;
  /** For XEP-0368 direct TLS (ALPN 'xmpp-client'). */
  readonly direct: LeanTlsContext;
}

export type ResolvedTlsEngine = { engine: 'lean'; contexts: LeanTlsContexts } | { engine: 'node'; why: string };

/** Builds the lean engine's contexts when the configuration and the machine allow it. Throws for 'lean' without the addon. */
export function resolveTlsEngine(config: Config, credentials: { key: string; cert: string }): ResolvedTlsEngine {
  const wanted = config.tls.engine;
  if (wanted === 'node') return { engine: 'node', why: 'configured' };
  if (leanTls() === null) {
    const why = `${leanTlsLoadError()}; run npm ci or npm run build:native`;
    if (wanted === 'lean') throw new Error(`[tls] engine = "lean": ${why}`);
    return { engine: 'node', why };
  }
  const base = { key: credentials.key, cert: credentials.cert, groups: config.tls.groups, handOff: config.tls.handOff };
  return {
    engine: 'lean',
    contexts: {
      starttls: new LeanTlsContext({ ...base, alpnXmppClient: false }),
      direct: new LeanTlsContext({ ...base, alpnXmppClient: true }),
    },
  };
}
