// Writing personal archives (XEP-0313 §3, §7.1.1): the recipient's copy on the recipient's home shard
// ('message:inbound'), the sender's copy on the sender's home shard ('stanza:outbound'). Each shard only ever
// touches the archives of users homed on it.
import type { ArchiveStore, ModuleContext, SessionRecord } from '../../router/module.ts';
import { Priority } from '../../router/module.ts';
import { bareOf, fullOf, type Jid, tryParseJid } from '../../xmpp/jid.ts';
import type { Element } from '../../xmpp/xml.ts';
import { AccountCache } from '../messaging/account-cache.ts';
import { isPersonallyArchivable } from './archivable.ts';
import type { MamMetrics } from './metrics.ts';
import type { PrefsCache } from './prefs-cache.ts';
import { applyRetraction, retractedId } from './retraction.ts';
import { newStanzaId, stampStanzaId, stripStanzaIds } from './stanza-id.ts';

export interface ArchivingDeps {
  ctx: ModuleContext;
  store: ArchiveStore;
  prefs: PrefsCache;
  metrics: MamMetrics;
  enabled: boolean;
}

export function registerArchiving(d: ArchivingDeps): void {
  const { ctx } = d;
  const accounts = new AccountCache({ positiveTtlMs: 30_000, negativeTtlMs: 5_000, maxEntries: 10_000 });

  /** Messages to an account that does not exist are bounced by messaging, never archived (XEP-0313 §7.1). */
  const accountExists = (bare: string): boolean | Promise<boolean> => {
    if (ctx.sessions.ofUser(bare).length > 0) return true;
    const known = accounts.get(bare, Date.now());
    if (known !== undefined) return known;
    return ctx.stores.accounts.get(bare).then((a) => {
      accounts.set(bare, a !== undefined, Date.now());
      return a !== undefined;
    });
  };

  // Recipient side. Priority.Policy: after blocking's Guard (a refused message "should not appear in the archive",
  // XEP-0313 §7.1) and before messaging delivers at Default, so the copy every session gets (and carbons copy)
  // carries the <stanza-id/>, and delivery waits until the entry is committed: a message counts as delivered
  // only once it is durable in the archive.
  ctx.hooks.on(
    'message:inbound',
    ({ stanza, to }) => {
      const owner = bareOf(to);
      // XEP-0359 §5: whatever the sender claimed in the recipient's name goes, archived or not.
      stripStanzaIds(stanza, owner);
      if (!d.enabled || !isPersonallyArchivable(stanza)) return undefined;
      const from = tryParseJid(stanza.attrs.from as string | undefined);
      if (from === undefined) return undefined;
      return archiveIncoming(owner, from, stanza).then(() => undefined);
    },
    Priority.Policy,
  );

  async function archiveIncoming(owner: string, from: Jid, stanza: Element): Promise<void> {
    if (!(await accountExists(owner))) return;
    const contact = bareOf(from);
    const retracted = retractedId(stanza);
    if (retracted !== undefined) await retract(owner, contact, retracted, contact);
    if (!(await d.prefs.allows(owner, contact))) return;
    const id = newStanzaId();
    // Stored without our own stanza-id: the result's 'id' carries it (XEP-0313 §4.2).
    const entry = { id, ts: Date.now(), with: fullOf(from), xml: stanza.toString() };
    try {
      await d.store.append(owner, entry);
      d.metrics.writes.inc({ direction: 'in', result: 'ok' });
      // XEP-0313 §3.3: "When a message is archived, the server MUST add an <stanza-id/> element", 'by' = the
      // archive's address, the user's bare JID.
      stampStanzaId(stanza, owner, id);
    } catch (err) {
      // Delivery goes on without an archive id (as Prosody does): losing the archive copy beats losing the message.
      d.metrics.writes.inc({ direction: 'in', result: 'error' });
      ctx.log.error({ err, jid: owner }, 'archiving an incoming message failed');
    }
  }

  // Sender side, for messages from a local session. Policy: after blocking's Guard veto; the <stanza-id/> added
  // here is seen by carbons (Fallback), which XEP-0313 §3.3 wants on the <sent/> copies, and removed again below
  // before the message leaves ("MUST NOT include the <stanza-id/> element in messages addressed to JIDs that do
  // not have permissions to access the archive").
  ctx.hooks.on(
    'stanza:outbound',
    ({ session, stanza, to }) => {
      if (stanza.name !== 'message') return undefined;
      // A client cannot claim an id of its own archive (XEP-0359 §5).
      stripStanzaIds(stanza, session.bare);
      if (!d.enabled || to === undefined || to.local === '') return undefined;
      // To one's own account: archived once, on arrival (§7.1.1: each stanza "only once" per archive).
      if (bareOf(to) === session.bare) return undefined;
      if (!isPersonallyArchivable(stanza)) return undefined;
      const allowed = d.prefs.allows(session.bare, bareOf(to));
      if (allowed instanceof Promise) return allowed.then((yes) => archiveOutgoing(yes, session, stanza, to));
      return archiveOutgoing(allowed, session, stanza, to);
    },
    Priority.Policy,
  );

  function archiveOutgoing(allowed: boolean, session: SessionRecord, stanza: Element, to: Jid): undefined {
    const owner = session.bare;
    const retracted = retractedId(stanza);
    if (retracted !== undefined) void retract(owner, bareOf(to), retracted, owner);
    if (!allowed) return undefined;
    const id = newStanzaId();
    // Not awaited: the session's next stanza need not wait for this commit, and the repo makes a later query of
    // the same archive wait for it (read-your-writes).
    d.store.append(owner, { id, ts: Date.now(), with: fullOf(to), xml: stanza.toString() }).then(
      () => d.metrics.writes.inc({ direction: 'out', result: 'ok' }),
      (err: unknown) => {
        d.metrics.writes.inc({ direction: 'out', result: 'error' });
        ctx.log.error({ err, jid: owner }, 'archiving an outgoing message failed');
      },
    );
    stampStanzaId(stanza, owner, id);
    return undefined;
  }

  // Last in the outbound chain (after carbons' Fallback copy): the sender's archive id never leaves the server.
  ctx.hooks.on(
    'stanza:outbound',
    ({ session, stanza }) => {
      if (stanza.name === 'message') stripStanzaIds(stanza, session.bare);
      return undefined;
    },
    Priority.Fallback - 1,
  );

  /** XEP-0424: each home replaces the message in its own user's archive; failures only cost the tombstone. */
  async function retract(owner: string, contact: string, id: string, senderBare: string): Promise<void> {
    try {
      const replaced = await applyRetraction(d.store, owner, contact, id, senderBare, Date.now());
      d.metrics.retractions.inc({ result: replaced === undefined ? 'not-found' : 'tombstoned' });
    } catch (err) {
      ctx.log.error({ err, jid: owner }, 'applying a retraction to the archive failed');
    }
  }
}
