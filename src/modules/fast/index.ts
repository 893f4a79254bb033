// XEP-0484: Fast Authentication Streamlining Tokens, the storage side on the user's home shard. The SASL2
// negotiation on the connection's edge reaches the user's tokens through these rpcs; the HT mechanisms
// themselves live in src/stream/sasl/ht.ts.
import { defineModule } from '../../router/module.ts';
import type { FastToken } from '../../router/module.ts';
import { isHtMechanism } from '../../stream/sasl/ht.ts';

/**
 * How long a token stays valid: 14 days. XEP-0484 §4.2 leaves it to the deployment's policy on inactive
 * devices; a client offline longer than this logs in with its password again. Prosody uses 21 days.
 */
export const FAST_TOKEN_TTL_MS = 14 * 24 * 60 * 60 * 1000;

/**
 * A token used after it is this old is due for rotation (XEP-0484 §3.5): the server then puts a new one in
 * <success/>. Daily, as Prosody; well below the TTL, so an active client never sees its token expire.
 */
export const FAST_TOKEN_ROTATE_AFTER_MS = 24 * 60 * 60 * 1000;

/** Whether a token just used should be replaced by a new one in the same <success/> (XEP-0484 §3.5). */
export function fastTokenDueForRotation(token: Pick<FastToken, 'createdAt'>, now = Date.now()): boolean {
  return now - token.createdAt >= FAST_TOKEN_ROTATE_AFTER_MS;
}

export default defineModule({
  name: 'fast',
  implements: [
    {
      xep: 484,
      name: 'Fast Authentication Streamlining Tokens',
      version: '0.1.0',
      status: 'partial',
      note: 'HT-SHA-256-NONE, -EXPR and -ENDP; no TLS 0-RTT',
    },
  ],
  setup(ctx) {
    /** fast.valid {jid, userAgentId?} -> FastToken[]: the user's valid tokens, newest first. */
    ctx.rpc('fast.valid', async (params) => {
      const p = fields(params);
      return ctx.stores.fast.valid(p.jid, optionalString(p.userAgentId, 'userAgentId'));
    });

    /**
     * fast.issue {jid, userAgentId, mechanism} -> FastToken, valid for FAST_TOKEN_TTL_MS. Only after a full
     * authentication (XEP-0484 §3.3: MUST NOT provide a token before), which is the caller's to ensure.
     */
    ctx.rpc('fast.issue', async (params) => {
      const p = fields(params);
      const mechanism = requiredString(p.mechanism, 'mechanism');
      // XEP-0484 §3.2: the requested mechanism MUST be one of the FAST mechanisms the server offers.
      if (!isHtMechanism(mechanism)) throw new Error(`ERR_FAST_MECHANISM: ${mechanism} is not a FAST mechanism`);
      const token = await ctx.stores.fast.issue(p.jid, requiredString(p.userAgentId, 'userAgentId'), mechanism, FAST_TOKEN_TTL_MS);
      ctx.log.info({ jid: p.jid, mechanism }, 'FAST token issued');
      return token;
    });

    /**
     * fast.used {jid, userAgentId, token} -> {rotate}: records a successful FAST login (XEP-0484 §3.5 rotation)
     * and says whether the token is old enough that <success/> should carry a new one.
     */
    ctx.rpc('fast.used', async (params) => {
      const p = fields(params);
      const userAgentId = requiredString(p.userAgentId, 'userAgentId');
      const secret = requiredString(p.token, 'token');
      const token = (await ctx.stores.fast.valid(p.jid, userAgentId)).find((t) => t.token === secret);
      await ctx.stores.fast.used(p.jid, userAgentId, secret);
      return { rotate: token !== undefined && fastTokenDueForRotation(token) };
    });

    /** fast.revoke {jid, userAgentId?}: XEP-0484 §3.6 'invalidate' for one client, or all of the user's tokens. */
    ctx.rpc('fast.revoke', async (params) => {
      const p = fields(params);
      await ctx.stores.fast.revoke(p.jid, optionalString(p.userAgentId, 'userAgentId'));
      return { ok: true };
    });
  },
});

/** Rpc params arrive as parsed JSON from another shard: check shapes rather than trust a cast. */
function fields(params: unknown): Record<string, unknown> & { jid: string } {
  if (typeof params !== 'object' || params === null) throw new TypeError('ERR_RPC_PARAMS: expected an object');
  const p = params as Record<string, unknown>;
  return { ...p, jid: requiredString(p['jid'], 'jid') };
}

function requiredString(v: unknown, name: string): string {
  if (typeof v !== 'string' || v === '') throw new TypeError(`ERR_RPC_PARAMS: ${name} must be a non-empty string`);
  return v;
}

function optionalString(v: unknown, name: string): string | undefined {
  return v === undefined || v === null ? undefined : requiredString(v, name);
}
