// What other modules (presence) use of the roster: roster pushes (RFC 6121 §2.1.6) and subscription
// changes applied by the roster module under its per-user lock, through a shard rpc so every write to a
// user's roster goes through one place, in order, whichever module asks.
import type { ModuleContext } from '../../router/module.ts';
import type { RosterItem } from '../../router/module.ts';
import type { Outcome, SubscriptionType } from '../presence/subscription.ts';
import { buildPush } from './codec.ts';

export const RPC_APPLY_SUBSCRIPTION = 'roster.apply-subscription';

export type Direction = 'in' | 'out';

export interface SubscriptionRequest {
  /** The local user (bare JID) whose roster changes. */
  readonly jid: string;
  /** The contact's bare JID. */
  readonly contact: string;
  /** 'out': the user sent the stanza (RFC 6121 A.2); 'in': the contact did (A.3). */
  readonly direction: Direction;
  readonly type: SubscriptionType;
}

export interface SubscriptionChange {
  readonly before: RosterItem | null;
  /** null when the item does not exist afterwards. */
  readonly after: RosterItem | null;
  /** The roster version after the change; null when nothing was written. */
  readonly version: number | null;
  readonly outcome: Outcome;
}

/** A removed item, as pushed with subscription='remove' (§2.5.2). */
export interface RemovedItem {
  readonly contact: string;
  readonly removed: true;
}

/**
 * §2.1.6: sends a roster push to every interested resource of `bare` on this (its home) shard,
 * including the one that caused the change. The push id is unique per user because versions are.
 */
export function pushRosterItem(ctx: ModuleContext, bare: string, item: RosterItem | RemovedItem, version: number): void {
  for (const session of ctx.sessions.ofUser(bare)) {
    if (!session.interested || session.closed) continue;
    ctx.sendToSession(session, buildPush(session.full, `push${version}`, version, item));
  }
}

/**
 * Applies a subscription stanza to `req.jid`'s roster (state tables of RFC 6121 Appendix A), persists
 * and pushes the result, and returns what the caller must still do (route, deliver, auto-reply).
 * Needs the roster module loaded; runs on the user's home shard.
 */
export async function applySubscription(ctx: ModuleContext, req: SubscriptionRequest): Promise<SubscriptionChange> {
  return (await ctx.call(req.jid, RPC_APPLY_SUBSCRIPTION, req)) as SubscriptionChange;
}
