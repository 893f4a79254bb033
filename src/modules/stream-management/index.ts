// XEP-0198: Stream Management. Counting and acks (§4), resumption (§5) of a session its home shard
// keeps after the connection drops, whichever edge the client reconnects through, and what happens to
// unacknowledged stanzas when a session ends for good (§... 'Stanza Acknowledgements'): messages go
// back through RFC 6121 delivery (other resources or offline storage), never silently lost.
import { Priority, defineModule } from '../../router/module.ts';
import type { SessionRecord } from '../../router/module.ts';
import { NS } from '../../xmpp/ns.ts';
import { parseElement } from '../../xmpp/stream-parser.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import { postAuthFeatures, sasl2Success, type Sasl2SuccessParts } from '../../xmpp/sasl2-success.ts';
import { SmState } from './state.ts';

const STANZAS = new Set(['message', 'presence', 'iq']);
/** Ask the client for an ack after this many unacknowledged stanzas. */
const REQUEST_EVERY = 5;
/** How long a resumption id that timed out still answers <failed h='…'/>. */
const STALE_ID_MS = 60 * 60 * 1000;

export default defineModule({
  name: 'stream-management',
  implements: [
    {
      xep: 198,
      name: 'Stream Management',
      version: '1.6.1',
      status: 'complete',
      note: 'resumption across shards; unacked messages re-delivered or stored offline',
    },
  ],
  setup(ctx) {
    const states = new WeakMap<SessionRecord, SmState>();
    const byId = new Map<string, SessionRecord>();
    const stale = new Map<string, { bare: string; h: number; expires: number }>();
    const { resumeTimeoutSec, maxUnacked } = ctx.config.streamManagement;

    ctx.streamFeature(() => xml('sm', { xmlns: NS.SM }));

    const write = (session: SessionRecord, el: Element) => ctx.writeToSession(session, el);

    /** §4: <enable/> answered with <enabled/> (or <failed/> if already on); returned, not written. */
    const enable = (session: SessionRecord, el: Element): Element => {
      if (states.has(session)) return xml('failed', { xmlns: NS.SM }, xml('unexpected-request', { xmlns: NS.STANZAS }));
      const wantsResume = el.attrs.resume === 'true' || el.attrs.resume === '1';
      const state = new SmState(crypto.randomUUID(), wantsResume && resumeTimeoutSec > 0);
      states.set(session, state);
      const attrs: Record<string, string> = { xmlns: NS.SM, id: state.id };
      if (state.resumable) {
        attrs.resume = 'true';
        attrs.max = String(resumeTimeoutSec);
        byId.set(state.id, session);
      }
      return xml('enabled', attrs);
    };

    // XEP-0386 / XEP-0198 §…: <enable/> inline in Bind2; <enabled/> goes into <bound/>.
    ctx.bind2Feature(NS.SM);
    ctx.hooks.on('session:bind2-inline', ({ session, element, results, enabled }) => {
      if (element.name !== 'enable' || element.attrs.xmlns !== NS.SM) return undefined;
      results.push(enable(session, element));
      enabled.add(NS.SM);
      return 'handled';
    });

    ctx.hooks.on('session:received', ({ session, element }) => {
      if (STANZAS.has(element.name)) states.get(session)?.countInbound();
    });

    ctx.hooks.on('session:nonza', ({ session, element }) => {
      if (element.attrs.xmlns !== NS.SM) return undefined;
      const state = states.get(session);
      if (element.name === 'enable') write(session, enable(session, element));
      else if (element.name === 'r' && state) write(session, xml('a', { xmlns: NS.SM, h: String(state.inbound) }));
      else if (element.name === 'a' && state) {
        if (!state.ack(Number(element.attrs.h))) {
          // XEP-0198 §4: an h acknowledging more than was sent is a stream error.
          ctx.closeSession(session, 'undefined-condition', `handled-count-too-high: h=${element.attrs.h}, sent ${state.outbound}`);
        }
      } else return undefined;
      return 'handled';
    });

    ctx.hooks.on(
      'session:write',
      ({ session, stanza }) => {
        const state = states.get(session);
        if (!state || state.replaying || !STANZAS.has(stanza.name)) return undefined;
        state.sent(stanza);
        if (state.unacked.length > maxUnacked) {
          ctx.log.warn({ jid: session.full, unacked: state.unacked.length }, 'too many unacknowledged stanzas; ending the session');
          ctx.closeSession(session, 'policy-violation', 'too many unacknowledged stanzas');
          void ctx.unbindSession(session, 'unacknowledged queue full');
          return 'handled';
        }
        if (session.detached) return 'handled'; // kept for the resumption
        if (!state.requested && state.unacked.length >= REQUEST_EVERY) {
          state.requested = true;
          // After the stanza itself is written: the request asks about it too.
          queueMicrotask(() => write(session, xml('r', { xmlns: NS.SM })));
        }
        return undefined;
      },
      Priority.Guard,
    );

    ctx.hooks.on('session:connection-lost', ({ session, clean }) => {
      const state = states.get(session);
      if (!state?.resumable || clean) return undefined;
      state.requested = false;
      state.timer = setTimeout(() => {
        ctx.log.info({ jid: session.full }, 'stream management: resumption timed out');
        session.queue.push(() => ctx.unbindSession(session, 'resumption timed out'));
      }, resumeTimeoutSec * 1000);
      state.timer.unref();
      ctx.log.info({ jid: session.full, unacked: state.unacked.length }, 'connection lost; session kept for resumption');
      return 'handled';
    });

    ctx.hooks.on('session:unbound', ({ session }) => {
      const state = states.get(session);
      if (!state) return;
      clearTimeout(state.timer);
      byId.delete(state.id);
      states.delete(session);
      if (state.resumable) stale.set(state.id, { bare: session.bare, h: state.inbound, expires: Date.now() + STALE_ID_MS });
      // XEP-0198 §… : unacknowledged messages are handled like messages to an unavailable resource:
      // addressed again to the bare JID, they reach another resource or offline storage.
      for (const { stanza } of state.unacked) {
        if (stanza.name !== 'message' || stanza.attrs.type === 'error' || stanza.attrs.type === 'groupchat') continue;
        const again = parseElement(stanza.toString()); // a copy: the original may still be referenced
        again.attrs.to = session.bare;
        ctx.route(again);
      }
    });

    ctx.rpc('sm.resume', (params) => {
      const { bare, previd, h, edge, connId, sasl2 } = params as {
        bare: string;
        previd: string;
        h: number;
        edge: number;
        connId: number;
        /** Set when the resumption is inline in a SASL2 <authenticate/>: <resumed/> goes inside <success/>. */
        sasl2?: Sasl2SuccessParts;
      };
      const session = byId.get(previd);
      const state = session && states.get(session);
      if (!session || !state || session.bare !== bare || session.closed) {
        const old = stale.get(previd);
        const known = old && old.bare === bare && old.expires > Date.now();
        return { ok: false, h: known ? old.h : null, condition: 'item-not-found' };
      }
      if (!state.ack(h)) return { ok: false, h: state.inbound, condition: 'unexpected-request' };
      clearTimeout(state.timer);
      // The old connection may still look open (half-open TCP): it is replaced.
      if (!session.detached) ctx.closeSession(session, 'conflict', 'the session was resumed on another connection');
      ctx.reattachSession(session, edge, connId);
      const resumed = xml('resumed', { xmlns: NS.SM, previd, h: String(state.inbound) });
      if (sasl2)
        ctx.writeRaw(
          session,
          sasl2Success(sasl2, session.full, [resumed]) + postAuthFeatures(ctx.streamFeatures(), true, new Set([NS.SM])),
        );
      else write(session, resumed);
      state.replaying = true;
      try {
        for (const { stanza } of state.unacked) write(session, stanza);
      } finally {
        state.replaying = false;
      }
      ctx.log.info({ jid: session.full, resent: state.unacked.length }, 'stream management: resumed');
      return { ok: true, full: session.full, home: ctx.shard };
    });

    // Forget expired resumption ids now and then.
    const sweep = setInterval(() => {
      const now = Date.now();
      for (const [id, s] of stale) if (s.expires < now) stale.delete(id);
    }, 60_000);
    sweep.unref();
  },
});
