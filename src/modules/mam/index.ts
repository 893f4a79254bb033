// XEP-0313 Message Archive Management (urn:xmpp:mam:2 with #extended) for personal archives, with XEP-0359
// stanza ids and XEP-0059 paging. A user's archive lives with the user's other data on the user's home shard:
// incoming messages are archived there before delivery, outgoing ones as they leave the sender's session
// (archiving.ts); the iq protocol is in queries.ts, the wire format (shared with room archives) in codec.ts.
import { defineModule } from '../../router/module.ts';
import { registerArchiving } from './archiving.ts';
import { MAM_NS } from './codec.ts';
import { createMamMetrics } from './metrics.ts';
import { PrefsCache } from './prefs-cache.ts';
import { registerQueries } from './queries.ts';
import { sweepPersonalArchives } from './retention.ts';
import { SID_NS } from './stanza-id.ts';

export { sweepArchive } from './retention.ts';

export default defineModule({
  name: 'mam',
  implements: [
    {
      xep: 313,
      name: 'Message Archive Management',
      version: '1.1.3',
      status: 'partial',
      note: 'personal archives with #extended (before-id, after-id, ids, flip-page, metadata); no include-groupchat, no RSM <index/> paging',
    },
    { xep: 359, name: 'Unique and Stable Stanza IDs', version: '0.7.0', status: 'complete' },
    {
      xep: 59,
      name: 'Result Set Management',
      version: '1.0',
      status: 'partial',
      note: 'in MAM queries; paging by <index/> is not offered',
    },
    { xep: 441, name: 'Message Archive Management Preferences', status: 'complete' },
  ],
  // The inbound hook runs before messaging's delivery (Priority.Policy > Default) and relies on it to deliver.
  dependsOn: ['messaging'],
  setup(ctx) {
    const cfg = ctx.config.archive;
    const metrics = createMamMetrics(ctx.metrics.registry);
    const prefs = new PrefsCache(ctx.stores.mamPrefs, ctx.stores.roster, cfg.defaultPolicy);
    // Spoofed stanza-ids are stripped even with archiving off (XEP-0359 §5), so the hooks always register.
    registerArchiving({ ctx, store: ctx.stores.archive, prefs, metrics, enabled: cfg.enabled });
    if (!cfg.enabled) return; // advertise nothing, answer nothing: the router says service-unavailable

    // XEP-0313 §7 "Determining support": on the account (the archive's address is the user's bare JID).
    ctx.disco.feature(MAM_NS.MAM, 'account');
    ctx.disco.feature(MAM_NS.EXTENDED, 'account');
    ctx.disco.feature(SID_NS, 'account');
    registerQueries({ ctx, prefs, metrics });

    // Always scheduled: users may have their own retention even when the server keeps everything.
    const sweep = async (now?: number): Promise<number> => {
      const deleted = await sweepPersonalArchives(ctx.stores.archive, ctx.stores.mamPrefs, {
        serverDays: cfg.retentionDays,
        ...(now === undefined ? {} : { now }),
      });
      metrics.expired.inc(deleted);
      if (deleted > 0) ctx.log.info({ deleted, retentionDays: cfg.retentionDays }, 'expired archived messages');
      return deleted;
    };
    ctx.every(cfg.sweepIntervalSec * 1000, () => sweep().then(() => undefined));
    ctx.rpc('mam.sweep-archives', (params) => sweep((params as { now?: number } | null)?.now));
  },
});
