// XEP-0352: Client State Indication. While a client says it is <inactive/>, stanzas that can wait are
// held back (see urgency.ts) and written, in order, before the next urgent one or on <active/>.
import { defineModule } from '../../router/module.ts';
import type { SessionRecord } from '../../router/module.ts';
import { NS } from '../../xmpp/ns.ts';
import { xml } from '../../xmpp/xml.ts';
import { CsiBuffer } from './csi-buffer.ts';
import { isUrgent } from './urgency.ts';

/** Stanzas held per inactive session before they are flushed anyway (bounds memory per connection). */
const BUFFER_CAPACITY = 100;

export default defineModule({
  name: 'csi',
  implements: [{ xep: 352, name: 'Client State Indication', version: '1.0.0', status: 'complete' }],
  setup(ctx) {
    /** Present only while the session is inactive; XEP-0352 §5: every stream starts 'active'. */
    const inactive = new WeakMap<SessionRecord, CsiBuffer>();

    const flush = (session: SessionRecord, buffer: CsiBuffer) => {
      // writeToSession bypasses session:deliver, so flushed stanzas do not come back here.
      for (const stanza of buffer.drain()) ctx.writeToSession(session, stanza);
    };

    // XEP-0352 §4.1: support is advertised as a stream feature after authentication.
    ctx.streamFeature(() => xml('csi', { xmlns: NS.CSI }));

    // XEP-0352 §4.2: <active/> and <inactive/> get no reply. §5.1: they are processed in order (this runs
    // in the session's serial queue), so a flush on <active/> is on the wire before any later answer.
    // XEP-0386 §…: a client may state <inactive/> (or <active/>) inline while binding; it then behaves
    // exactly as the nonza sent right after binding, and adds nothing to <bound/>.
    ctx.bind2Feature(NS.CSI);
    ctx.hooks.on('session:bind2-inline', ({ session, element, enabled }) => {
      if (element.attrs.xmlns !== NS.CSI) return undefined;
      if (element.name === 'inactive' && !inactive.has(session)) inactive.set(session, new CsiBuffer(BUFFER_CAPACITY));
      enabled.add(NS.CSI);
      return 'handled';
    });

    ctx.hooks.on('session:nonza', ({ session, element }) => {
      if (element.attrs.xmlns !== NS.CSI) return undefined;
      if (element.name === 'inactive') {
        if (!inactive.has(session)) inactive.set(session, new CsiBuffer(BUFFER_CAPACITY));
        return 'handled';
      }
      if (element.name === 'active') {
        const buffer = inactive.get(session);
        if (buffer) {
          inactive.delete(session);
          flush(session, buffer);
        }
        return 'handled';
      }
      return undefined; // anything else in urn:xmpp:csi:0 is not a CSI nonza
    });

    // Held stanzas are referenced, not copied: whoever hands a stanza to sendToSession must not change it
    // afterwards (the router already assumes this for local delivery).
    ctx.hooks.on('session:deliver', ({ session, stanza }) => {
      const buffer = inactive.get(session);
      if (!buffer) return undefined;
      if (isUrgent(stanza)) {
        // Flush first so the client sees everything in the order the server sent it.
        flush(session, buffer);
        return undefined; // the router writes the urgent stanza itself
      }
      if (buffer.push(stanza)) flush(session, buffer);
      return 'handled';
    });

    // The connection is gone: nothing held can be written. (With XEP-0198 resumption, the held stanzas
    // should move to the resumable session's queue instead.)
    ctx.hooks.on('session:unbound', ({ session }) => {
      inactive.delete(session);
    });
  },
});
