// XEP-0280: Message Carbons (v1.0.1), with the XEP-0334 <no-copy/> hint. A session that enables
// carbons gets a <sent/> copy of what the user's other sessions send (§8) and a <received/> copy of
// what they are delivered (§7). Sent copies are made on the sender's home shard as the message leaves
// ('stanza:outbound'); received copies on the recipient's home shard once the messaging module has
// delivered the original ('message:delivered'), so each side only touches its own user's sessions.
import type { IqRequest } from '../../router/module.ts';
import { defineModule, Priority } from '../../router/module.ts';
import type { SessionRecord } from '../../router/module.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, tryParseJid } from '../../xmpp/jid.ts';
import type { Element } from '../../xmpp/xml.ts';
import { buildCarbon, CARBONS_NS, type CarbonDirection, forwardedCopy, stripPrivate } from './codec.ts';
import { carbonDecision } from './eligibility.ts';

export default defineModule({
  name: 'carbons',
  implements: [
    {
      xep: 280,
      name: 'Message Carbons',
      version: '1.0.1',
      status: 'complete',
      note: 'urn:xmpp:carbons:rules:0; MUC private messages are recognised by the muc#user <x/> our rooms add (XEP-0045 §7.5)',
    },
    {
      xep: 334,
      name: 'Message Processing Hints',
      version: '0.3.0',
      status: 'partial',
      note: '<no-copy/> (carbons); <no-store/> and <store/> are honoured by offline storage',
    },
  ],
  // Received copies hang off the messaging module's 'message:delivered' (who got the original).
  dependsOn: ['messaging'],
  setup(ctx) {
    /** Sessions that sent <enable/> (§4) and not <disable/> since; per session, gone with it. */
    const enabled = new WeakSet<SessionRecord>();
    /** Messages whose <private/> was stripped before delivery (§9), so that none of them is copied. */
    const privateMessages = new WeakSet<Element>();

    // §3: support is advertised by the server (the example asks the user's own server), together with
    // rules:0, which promises the §6 eligibility rules as written (see eligibility.ts).
    ctx.disco.feature(CARBONS_NS.CARBONS, 'server');
    ctx.disco.feature(CARBONS_NS.RULES, 'server');

    const toggle =
      (on: boolean) =>
      (req: IqRequest): undefined => {
        // §4.1 / §5.1: not-allowed for a request that is not from one of the account's own sessions
        // (the §5 example: "trying to disable another client's Carbons").
        if (!req.session) throw new StanzaError('cancel', 'not-allowed', 'carbons are set by the session itself');
        // §10.1: repeated enables (or disables) are not errors; each just gets a result.
        if (on) enabled.add(req.session);
        else enabled.delete(req.session);
        return undefined;
      };
    // §4, §5: an iq-set to the user's own account (the examples have no 'to').
    ctx.iq.set(CARBONS_NS.CARBONS, 'enable', toggle(true), ['account']);
    // XEP-0386 §…: <enable xmlns='urn:xmpp:carbons:2'/> inline in Bind2 switches carbons on for the new
    // session before any message can reach it; nothing is added to <bound/>.
    ctx.bind2Feature(CARBONS_NS.CARBONS);
    ctx.hooks.on('session:bind2-inline', ({ session, element, enabled: inline }) => {
      if (element.name !== 'enable' || element.attrs.xmlns !== CARBONS_NS.CARBONS) return undefined;
      enabled.add(session);
      inline.add(CARBONS_NS.CARBONS);
      return 'handled';
    });
    ctx.iq.set(CARBONS_NS.CARBONS, 'disable', toggle(false), ['account']);

    /** The user's Carbons-enabled sessions on this (home) shard that `skip` does not exclude. */
    const enabledSessions = (bare: string, skip: (s: SessionRecord) => boolean): SessionRecord[] =>
      ctx.sessions.ofUser(bare).filter((s) => enabled.has(s) && !s.closed && !skip(s));

    /** Whether any session of the user has Carbons on: checked first, since for most messages none has. */
    const anyEnabled = (bare: string): boolean => {
      for (const s of ctx.sessions.ofUser(bare)) if (enabled.has(s) && !s.closed) return true;
      return false;
    };

    const sendCopies = (direction: CarbonDirection, owner: string, original: Element, targets: readonly SessionRecord[]) => {
      const forwarded = forwardedCopy(original);
      const type = original.attrs.type as string | undefined;
      for (const s of targets) ctx.sendToSession(s, buildCarbon(direction, owner, s.full, type, forwarded));
    };

    // §8: "delivers a forwarded copy to each Carbons-enabled resource for the matching bare JID sender,
    // excluding the sending client ... irrespective of whether the sending client has carbons enabled."
    // At Fallback priority, after blocking's Guard veto and anything else that may swallow the message,
    // so a refused message is not copied; returning undefined lets routing go on.
    ctx.hooks.on(
      'stanza:outbound',
      ({ session, stanza, to }) => {
        if (stanza.name !== 'message') return undefined;
        // A message to the user's own account (or without 'to', which RFC 6120 §10.3.1 addresses to
        // the sender's bare JID) is copied once it is delivered, below, so that no resource gets it twice.
        if (!to || (to.local === session.jid.local && to.domain === session.jid.domain)) return undefined;
        if (!anyEnabled(session.bare)) return undefined;
        // Targets first: most users have no other enabled session, which is cheaper to learn than §6.
        const targets = enabledSessions(session.bare, (s) => s === session);
        if (targets.length > 0 && carbonDecision(stanza, 'sent', to.resource !== '') === 'copy')
          sendCopies('sent', session.bare, stanza, targets);
        return undefined;
      },
      Priority.Fallback,
    );

    // §9: "The receiving server ... SHOULD remove the <private/> element before delivering to the
    // recipient." Before the messaging module delivers (Default) and after blocking's Guard.
    ctx.hooks.on(
      'message:inbound',
      ({ stanza }) => {
        if (stripPrivate(stanza)) privateMessages.add(stanza);
        return undefined;
      },
      Priority.Policy,
    );

    // §7: after RFC 6121 delivery, a copy to "each Carbons-enabled resource for the matching bare JID
    // recipient that did not receive it", and it "MUST NOT send a forwarded copy to the client(s) the
    // original <message/> stanza was addressed to".
    ctx.hooks.on('message:delivered', ({ stanza, to, delivered }) => {
      if (privateMessages.has(stanza)) return undefined; // §9: MUST NOT copy to the recipient's resources
      const owner = bareOf(to);
      if (!anyEnabled(owner)) return undefined;
      const from = tryParseJid(stanza.attrs.from as string | undefined);
      // A message between two resources of one user is both sent and received by that user. Each
      // resource gets one copy (the XEP 0.5 change: "each resource only receives one copy"): the
      // addressee the original, the sender nothing (it was skipped in stanza:outbound above), every
      // other enabled resource a <sent/> copy, as it would for a message to someone else.
      const own = from !== undefined && bareOf(from) === owner;
      const direction: CarbonDirection = own ? 'sent' : 'received';
      const sender = own && from.resource ? ctx.sessions.get(owner, from.resource) : undefined;
      const targets = enabledSessions(owner, (s) => s === sender || delivered.includes(s));
      if (targets.length > 0 && carbonDecision(stanza, direction, to.resource !== '') === 'copy')
        sendCopies(direction, owner, stanza, targets);
      return undefined;
    });
  },
});
