// The archive's iq protocol on the user's account (XEP-0313 §4-§6): query (set), query form (get), metadata
// (get) and preferences (get/set). Only the account owner may use them.
import type { IqRequest, ModuleContext } from '../../router/module.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, fullOf } from '../../xmpp/jid.ts';
import type { Element } from '../../xmpp/xml.ts';
import { finElement, MAM_NS, metadataElement, pageOrder, parseMamQuery, queryFormElement, resultMessages } from './codec.ts';
import type { MamMetrics } from './metrics.ts';
import type { PrefsCache } from './prefs-cache.ts';
import { parsePrefs, prefsElement } from './prefs.ts';

export interface QueryDeps {
  ctx: ModuleContext;
  prefs: PrefsCache;
  metrics: MamMetrics;
}

/**
 * XEP-0313 §3.4.1: a user archive is exposed on the user's bare JID to the user. Anybody else (another user's iq
 * to this account) is refused with forbidden; the archive is not theirs to read.
 */
function owner(req: IqRequest): string {
  const bare = bareOf(req.to);
  if (bareOf(req.from) !== bare) throw new StanzaError('auth', 'forbidden', 'only the account owner may use its archive');
  return bare;
}

function hasCode(err: unknown, code: string): boolean {
  return err instanceof Error && (err as Error & { code?: unknown }).code === code;
}

export function registerQueries(d: QueryDeps): void {
  const { ctx, metrics } = d;
  const store = ctx.stores.archive;

  // §4.1.5 "Retrieving form fields".
  ctx.iq.get(
    MAM_NS.MAM,
    'query',
    (req) => {
      owner(req);
      return queryFormElement();
    },
    ['account'],
  );

  ctx.iq.set(
    MAM_NS.MAM,
    'query',
    async (req) => {
      const archive = owner(req);
      let parsed: ReturnType<typeof parseMamQuery>;
      try {
        parsed = parseMamQuery(req.payload, ctx.config.archive.maxPageSize);
      } catch (err) {
        metrics.queries.inc({ result: err instanceof StanzaError ? err.condition : 'error' });
        throw err;
      }
      const stop = metrics.queryTime.startTimer();
      let page: Awaited<ReturnType<typeof store.query>>;
      try {
        page = await store.query(archive, parsed.query);
      } catch (err) {
        // §4.1.2 / §4.3.2: an unknown id in after/before/after-id/before-id/ids is item-not-found (type cancel, as
        // the XEP's example).
        if (hasCode(err, 'ERR_ITEM_NOT_FOUND')) {
          metrics.queries.inc({ result: 'item-not-found' });
          throw new StanzaError('cancel', 'item-not-found');
        }
        metrics.queries.inc({ result: 'error' });
        throw err;
      } finally {
        stop();
      }
      metrics.queries.inc({ result: 'ok' });
      // §4.2: the results, then (§4.3) the iq result with <fin/> "after the last query result has been sent".
      // Both go through the same session in order; CSI flushes what it holds before an iq.
      const messages = resultMessages({
        to: fullOf(req.from),
        ...(parsed.queryId === undefined ? {} : { queryId: parsed.queryId }),
        items: pageOrder(page.items, parsed.flip),
      });
      for (const m of messages) send(req, m);
      ctx.log.debug({ jid: archive, items: page.items.length, count: page.count, complete: page.complete }, 'archive query');
      return finElement(page, { flip: parsed.flip });
    },
    ['account'],
  );

  const send = (req: IqRequest, m: Element): void => {
    if (req.session && !req.session.closed) ctx.sendToSession(req.session, m);
    else ctx.route(m);
  };

  // §5 archive metadata (#extended).
  ctx.iq.get(MAM_NS.MAM, 'metadata', async (req) => metadataElement(await store.bounds(owner(req))), ['account']);

  // §6 / XEP-0441 preferences: a set stores and echoes the stored result.
  ctx.iq.get(MAM_NS.MAM, 'prefs', async (req) => prefsElement(await d.prefs.get(owner(req))), ['account']);
  ctx.iq.set(
    MAM_NS.MAM,
    'prefs',
    async (req) => {
      const archive = owner(req);
      const prefs = parsePrefs(req.payload);
      await d.prefs.set(archive, prefs);
      ctx.log.info({ jid: archive, default: prefs.default }, 'archiving preferences changed');
      return prefsElement(prefs);
    },
    ['account'],
  );
}
