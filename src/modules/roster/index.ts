// RFC 6121 §2 roster management with XEP-0237 roster versioning. Every write to a user's roster (roster
// sets here, subscription changes asked for by the presence module over RPC_APPLY_SUBSCRIPTION) runs under
// one per-user lock on the user's home shard, so pushes go out in version order and no update is lost.
import { defineModule, type IqRequest, type ModuleContext } from '../../router/module.ts';
import type { SessionRecord } from '../../router/module.ts';
import type { RosterItem } from '../../router/module.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf } from '../../xmpp/jid.ts';
import { NS } from '../../xmpp/ns.ts';
import { xml } from '../../xmpp/xml.ts';
import { hasFrom, hasTo, inbound, isSubscriptionType, NO_SUBSCRIPTION, outbound } from '../presence/subscription.ts';
import { buildQuery, isPlaceholder, parseRosterSet } from './codec.ts';
import { KeyedLock } from './lock.ts';
import { pushRosterItem, RPC_APPLY_SUBSCRIPTION, type SubscriptionChange, type SubscriptionRequest } from './push.ts';

export default defineModule({
  name: 'roster',
  implements: [
    { rfc: 6121, name: 'Roster management', status: 'complete' },
    { xep: 237, name: 'Roster versioning', version: '1.3', status: 'complete', note: 'a stale version gets the full roster' },
  ],
  setup(ctx) {
    const lock = new KeyedLock();
    const store = ctx.stores.roster;

    // XEP-0237 §3: advertised as a stream feature, not in disco.
    ctx.streamFeature(() => xml('ver', { xmlns: NS.ROSTER_VER }));

    ctx.iq.get(
      NS.ROSTER,
      'query',
      async (req) => {
        // Only the account's own resources may read its roster; to anyone else the roster does not exist.
        const session = ownSession(req, new StanzaError('cancel', 'service-unavailable'));
        // §2.1.6: from now on this resource gets pushes. Set before reading, so a change racing the read
        // is pushed rather than lost (a push of something the result already holds is harmless).
        session.interested = true;
        const { version, items } = await store.list(session.bare);
        // XEP-0237 §2.3: the client's copy is current → an empty result, no query.
        if (req.payload.attrs.ver === String(version)) return undefined;
        return buildQuery(items, version);
      },
      ['account'],
    );

    ctx.iq.set(
      NS.ROSTER,
      'query',
      async (req) => {
        // §2.3.3: a roster set from anyone but the user's own resources is forbidden.
        const session = ownSession(req, new StanzaError('auth', 'forbidden'));
        const set = parseRosterSet(req.payload);
        // The user is implicitly subscribed to its own presence (§4.2.2); an item for itself would only
        // duplicate that, so it is refused as Prosody does (RFC 6121 lists no condition for it).
        if (set.contact === session.bare) throw new StanzaError('cancel', 'not-allowed', 'your own JID cannot be a roster item');
        if (set.remove) await lock.run(session.bare, () => removeItem(ctx, session.bare, set.contact));
        else await lock.run(session.bare, () => upsertItem(ctx, session.bare, set.contact, set.name, set.groups));
        return undefined;
      },
      ['account'],
    );

    ctx.rpc(RPC_APPLY_SUBSCRIPTION, (params) => {
      const req = checkRequest(params);
      return lock.run(req.jid, () => applySubscriptionLocked(ctx, req));
    });
  },
});

function ownSession(req: IqRequest, refusal: StanzaError): SessionRecord {
  if (!req.session || bareOf(req.from) !== bareOf(req.to)) throw refusal;
  return req.session;
}

/** §2.3 (add) and §2.4 (update): only name and groups come from the client; subscription state is kept. */
async function upsertItem(ctx: ModuleContext, bare: string, contact: string, name: string | null, groups: string[]): Promise<void> {
  const existing = await ctx.stores.roster.get(bare, contact);
  const item: RosterItem = existing
    ? { ...existing, name, groups }
    : { contact, name, groups, subscription: 'none', askOut: false, pendingIn: false, approved: false };
  const version = await ctx.stores.roster.put(bare, item);
  pushRosterItem(ctx, bare, item, version); // §2.3.2: to every interested resource, the sender included
}

/** §2.5.2: remove, push the removal, and end the subscriptions in both directions at the contact's server. */
async function removeItem(ctx: ModuleContext, bare: string, contact: string): Promise<void> {
  const existing = await ctx.stores.roster.get(bare, contact);
  // §2.5.3: removing an item that is not in the roster is an error.
  if (!existing || isPlaceholder(existing)) throw new StanzaError('cancel', 'item-not-found');
  const version = await ctx.stores.roster.remove(bare, contact);
  pushRosterItem(ctx, bare, { contact, removed: true }, version);
  // Stamped with the bare JID like any subscription stanza (§3.1.2), sent only where a subscription or a
  // request exists, so the contact's server moves its side to None as well.
  if (hasTo(existing.subscription) || existing.askOut) ctx.route(xml('presence', { from: bare, to: contact, type: 'unsubscribe' }));
  if (hasFrom(existing.subscription) || existing.pendingIn) {
    ctx.route(xml('presence', { from: bare, to: contact, type: 'unsubscribed' }));
  }
  // §3.2.2: the contact could see the user's presence and no longer may; tell it each resource is gone.
  if (hasFrom(existing.subscription)) {
    for (const s of ctx.sessions.ofUser(bare)) {
      if (s.available && !s.closed) ctx.route(xml('presence', { from: s.full, to: contact, type: 'unavailable' }));
    }
  }
}

async function applySubscriptionLocked(ctx: ModuleContext, req: SubscriptionRequest): Promise<SubscriptionChange> {
  const store = ctx.stores.roster;
  const before = (await store.get(req.jid, req.contact)) ?? null;
  const state = before ?? NO_SUBSCRIPTION;
  const result = req.direction === 'out' ? outbound(state, req.type) : inbound(state, req.type);
  if (!result.changed) return { before, after: before, version: null, outcome: result };

  const base = before ?? { contact: req.contact, name: null, groups: [] };
  const after: RosterItem = { ...base, ...result.next };
  const shownBefore = before !== null && !isPlaceholder(before);
  if (!shownBefore && isEmpty(after)) {
    // A placeholder whose request was denied or withdrawn leaves nothing behind (§3.1.3: a pending
    // request creates no roster item), and the client never saw it, so there is nothing to push.
    const version = before ? await store.remove(req.jid, req.contact) : null;
    return { before, after: null, version, outcome: result };
  }
  const version = await store.put(req.jid, after);
  // §2.1.6 / A.2 / A.3: push what clients see changing; 'pending in' alone is not visible in an item.
  if (!isPlaceholder(after) && (!shownBefore || !sameView(before, after))) pushRosterItem(ctx, req.jid, after, version);
  return { before, after, version, outcome: result };
}

function isEmpty(item: RosterItem): boolean {
  return item.subscription === 'none' && !item.askOut && !item.pendingIn && !item.approved;
}

function sameView(a: RosterItem, b: RosterItem): boolean {
  return a.subscription === b.subscription && a.askOut === b.askOut && a.approved === b.approved;
}

function checkRequest(params: unknown): SubscriptionRequest {
  const p = params as Partial<Record<keyof SubscriptionRequest, unknown>> | null;
  if (
    typeof p?.jid !== 'string' ||
    typeof p.contact !== 'string' ||
    (p.direction !== 'in' && p.direction !== 'out') ||
    !isSubscriptionType(p.type)
  ) {
    throw new Error(`ERR_BAD_RPC_PARAMS: ${RPC_APPLY_SUBSCRIPTION}`);
  }
  return { jid: p.jid, contact: p.contact, direction: p.direction, type: p.type };
}
