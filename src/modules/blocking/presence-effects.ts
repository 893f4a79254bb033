// XEP-0191 §3.3 / §3.4: presence the user's server sends when the block list changes. Only contacts
// "allowed to receive presence notifications from the user" get anything (RFC 6121 §4: a subscription
// of 'from' or 'both', or directed presence that is still in force, RFC 6121 §4.6).
import type { ModuleContext } from '../../router/module.ts';
import type { SessionRecord } from '../../router/module.ts';
import { bareOf, parseJid, tryParseJid } from '../../xmpp/jid.ts';
import { parseElement } from '../../xmpp/stream-parser.ts';
import { xml } from '../../xmpp/xml.ts';
import { BlockList } from './block-list.ts';

/** Subscribed contacts (bare JIDs, or the blocked full JID when the item names one resource) matching `items`. */
async function subscribedTargets(ctx: ModuleContext, bare: string, items: readonly string[]): Promise<Set<string>> {
  const changed = new BlockList(items);
  const targets = new Set<string>();
  const subscribed = new Set<string>();
  for (const r of (await ctx.stores.roster.list(bare)).items) {
    if (r.subscription !== 'from' && r.subscription !== 'both') continue;
    subscribed.add(r.contact);
    const contact = tryParseJid(r.contact);
    if (contact && changed.matches(contact)) targets.add(r.contact);
  }
  for (const item of items) {
    const jid = parseJid(item);
    // <user@domain/resource> blocks one resource of a subscribed contact: tell only that resource.
    if (jid.local && jid.resource && subscribed.has(bareOf(jid))) targets.add(item);
  }
  return targets;
}

function availableSessions(ctx: ModuleContext, bare: string): SessionRecord[] {
  return ctx.sessions.ofUser(bare).filter((s) => s.available && !s.closed);
}

/** XEP-0191 §3.3: on block, the server MUST send unavailable presence to the newly blocked contacts. */
export async function sendUnavailableOnBlock(ctx: ModuleContext, bare: string, blocked: readonly string[]): Promise<void> {
  const sessions = availableSessions(ctx, bare);
  if (sessions.length === 0) return; // the contacts already see the user as offline
  const subscribed = await subscribedTargets(ctx, bare, blocked);
  const changed = new BlockList(blocked);
  for (const s of sessions) {
    const targets = new Set(subscribed);
    for (const d of s.directedTo) {
      const jid = tryParseJid(d);
      if (jid && changed.matches(jid)) targets.add(d);
    }
    for (const to of targets) ctx.route(xml('presence', { type: 'unavailable', from: s.full, to }));
  }
}

/** XEP-0191 §3.4: on unblock, the server MUST send the user's current presence to the unblocked contacts. */
export async function sendPresenceOnUnblock(ctx: ModuleContext, bare: string, unblocked: readonly string[]): Promise<void> {
  const sessions = availableSessions(ctx, bare).filter((s) => s.presence !== null);
  if (sessions.length === 0) return;
  const targets = await subscribedTargets(ctx, bare, unblocked);
  for (const s of sessions) {
    if (!s.presence) continue;
    const text = s.presence.toString();
    for (const to of targets) {
      // A fresh copy per recipient: routing stamps to/from, and elements cannot be shared between trees.
      const p = parseElement(text);
      p.attrs.from = s.full;
      p.attrs.to = to;
      ctx.route(p);
    }
  }
}
