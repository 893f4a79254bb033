// XEP-0191: Blocking Command (v1.3). Block list retrieval, block/unblock with pushes to interested
// resources, presence on change, and enforcement of the list in both directions (enforcement.ts).
import type { IqRequest } from '../../router/module.ts';
import { defineModule } from '../../router/module.ts';
import type { SessionRecord } from '../../router/module.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { NS } from '../../xmpp/ns.ts';
import { xml } from '../../xmpp/xml.ts';
import { BlockListCache } from './block-list-cache.ts';
import { buildItems, parseItems } from './codec.ts';
import { installEnforcement } from './enforcement.ts';
import { sendPresenceOnUnblock, sendUnavailableOnBlock } from './presence-effects.ts';

/** Users whose block lists stay in memory per shard (each is a small Set; the least recently used go first). */
const CACHED_USERS = 50_000;

export default defineModule({
  name: 'blocking',
  implements: [{ xep: 191, name: 'Blocking Command', version: '1.3', status: 'complete' }],
  setup(ctx) {
    const cache = new BlockListCache(ctx.stores.blocks, CACHED_USERS);
    /** XEP-0191 §3.3-§3.5: pushes go to "all of the user's resources that have requested the blocklist". */
    const interested = new WeakSet<SessionRecord>();
    let pushId = 0;

    // XEP-0191 §3.1: the server MUST return "urn:xmpp:blocking" to a disco#info request to the server
    // (example: to='capulet.com'); some clients ask their own account instead, so both scopes list it.
    ctx.disco.feature(NS.BLOCKING);
    installEnforcement(ctx, cache);

    const push = (bare: string, payload: 'block' | 'unblock', items: readonly string[]) => {
      for (const s of ctx.sessions.ofUser(bare)) {
        if (!interested.has(s) || s.closed) continue;
        // No 'from': implicitly the user's own account, which clients accept (as for roster pushes, RFC 6121 §2.1.6).
        const iq = xml('iq', { type: 'set', id: `block-push-${ctx.shard}-${++pushId}`, to: s.full }, buildItems(payload, items));
        ctx.sendToSession(s, iq);
      }
    };

    // XEP-0191 §3.2: an iq-get with no 'to' returns the list (empty <blocklist/> when nothing is blocked).
    ctx.iq.get(
      NS.BLOCKING,
      'blocklist',
      async (req) => {
        const session = ownSession(req);
        const list = await cache.get(session.bare);
        interested.add(session);
        return buildItems('blocklist', list.list());
      },
      ['account'],
    );

    // XEP-0191 §3.3: block one or more JIDs.
    ctx.iq.set(
      NS.BLOCKING,
      'block',
      async (req) => {
        const session = ownSession(req);
        const items = parseItems(req.payload);
        // "If the <block/> element does not contain at least one <item/> child element, the server MUST
        // return a bad-request error."
        if (items.length === 0) throw new StanzaError('modify', 'bad-request', 'block needs at least one item');
        const list = await cache.get(session.bare);
        await ctx.stores.blocks.add(session.bare, items);
        const added = list.add(items);
        push(session.bare, 'block', items);
        if (added.length > 0) await sendUnavailableOnBlock(ctx, session.bare, added);
        return undefined;
      },
      ['account'],
    );

    // XEP-0191 §3.4 (items) and §3.5 (empty <unblock/> = unblock everything).
    ctx.iq.set(
      NS.BLOCKING,
      'unblock',
      async (req) => {
        const session = ownSession(req);
        const items = parseItems(req.payload);
        const list = await cache.get(session.bare);
        let removed: string[];
        if (items.length === 0) {
          await ctx.stores.blocks.clear(session.bare);
          removed = list.clear();
        } else {
          await ctx.stores.blocks.remove(session.bare, items);
          removed = list.remove(items);
        }
        push(session.bare, 'unblock', items);
        if (removed.length > 0) await sendPresenceOnUnblock(ctx, session.bare, removed);
        return undefined;
      },
      ['account'],
    );
  },
});

/** Block list commands are the account's own business: only its own sessions may use them. */
function ownSession(req: IqRequest): SessionRecord {
  if (!req.session) throw new StanzaError('auth', 'forbidden');
  return req.session;
}
