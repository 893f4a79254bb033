// RFC 6121 Appendix A: presence subscription states and what each subscription stanza does to them,
// on the sending user's server (A.2, "outbound") and on the receiving user's server (A.3, "inbound").
// Pure: no I/O, no XML. The roster module applies these under its per-user lock; the presence module
// acts on the returned flags (route, deliver, auto-reply, presence).
import type { Subscription } from '../../router/module.ts';

export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

const TYPES: ReadonlySet<string> = new Set<SubscriptionType>(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']);

export function isSubscriptionType(type: unknown): type is SubscriptionType {
  return typeof type === 'string' && TYPES.has(type);
}

/** The subscription part of a roster item (RFC 6121 §A.1 states, plus the §3.4 pre-approval flag). */
export interface SubState {
  readonly subscription: Subscription;
  /** "Pending Out": the user asked for the contact's presence and awaits the answer. */
  readonly askOut: boolean;
  /** "Pending In": the contact asked for the user's presence and awaits the user's answer. */
  readonly pendingIn: boolean;
  /** §3.4: the user approved a request the contact has not sent yet. */
  readonly approved: boolean;
}

export const NO_SUBSCRIPTION: SubState = Object.freeze({ subscription: 'none', askOut: false, pendingIn: false, approved: false });

export interface Outcome {
  readonly next: SubState;
  readonly changed: boolean;
  /** Outbound: route the stanza to the contact. */
  readonly route: boolean;
  /** Inbound: deliver the stanza to the user's available resources. */
  readonly deliver: boolean;
  /** Inbound: answer `subscribed` to the contact on the user's behalf (§3.1.3, §3.4). */
  readonly autoReply: boolean;
  /** Send the user's current presence (each available resource) to the contact, who may now see it. */
  readonly sendPresence: boolean;
  /** Send unavailable from each available resource to the contact, who may no longer see it. */
  readonly sendUnavailable: boolean;
}

export function hasTo(s: Subscription): boolean {
  return s === 'to' || s === 'both';
}

export function hasFrom(s: Subscription): boolean {
  return s === 'from' || s === 'both';
}

function subscriptionOf(to: boolean, from: boolean): Subscription {
  if (to) return from ? 'both' : 'to';
  return from ? 'from' : 'none';
}

function sameState(a: SubState, b: SubState): boolean {
  return a.subscription === b.subscription && a.askOut === b.askOut && a.pendingIn === b.pendingIn && a.approved === b.approved;
}

function outcome(state: SubState, next: SubState, flags: Partial<Omit<Outcome, 'next' | 'changed'>>): Outcome {
  return {
    next,
    changed: !sameState(state, next),
    route: flags.route ?? false,
    deliver: flags.deliver ?? false,
    autoReply: flags.autoReply ?? false,
    sendPresence: flags.sendPresence ?? false,
    sendUnavailable: flags.sendUnavailable ?? false,
  };
}

/** A.2: the user sent `type` to the contact. */
export function outbound(state: SubState, type: SubscriptionType): Outcome {
  const to = hasTo(state.subscription);
  const from = hasFrom(state.subscription);
  switch (type) {
    case 'subscribe':
      // A.2.1: None/From gain Pending Out; states with To are unchanged. §3.1.2: the request is routed
      // in every case, so a contact that is already subscribed can answer again (§3.1.3 auto-reply).
      return outcome(state, to ? state : { ...state, askOut: true }, { route: true });
    case 'unsubscribe':
      // A.2.2: To and Pending Out end; From is kept. §3.3.2: routed so the contact's server updates too.
      return outcome(state, { ...state, subscription: subscriptionOf(false, from), askOut: false }, { route: true });
    case 'subscribed':
      if (from) {
        // A.2.3 "no state change". Routing again lets a contact whose server missed the first approval
        // catch up (the inbound side ignores it unless it is pending), so we do, with current presence.
        return outcome(state, state, { route: true, sendPresence: true });
      }
      if (state.pendingIn) {
        // A.2.3: Pending In becomes From. §3.1.5: route the approval, then send current presence.
        const next = { ...state, subscription: subscriptionOf(to, true), pendingIn: false, approved: false };
        return outcome(state, next, { route: true, sendPresence: true });
      }
      // §3.4.1: no request is pending, so this is a pre-approval: noted in the roster, not routed.
      return outcome(state, { ...state, approved: true }, {});
    case 'unsubscribed': {
      // A.2.4: From and Pending In end (a denial or a cancellation); §3.4: so does a pre-approval.
      const next = { ...state, subscription: subscriptionOf(to, false), pendingIn: false, approved: false };
      // Cancelling only a pre-approval concerns nobody else: the contact never learnt of it.
      const onlyApproval = state.approved && !from && !state.pendingIn;
      // §3.2.2: a contact that could see the user's presence is told the user went unavailable.
      return outcome(state, next, { route: !onlyApproval, sendUnavailable: from });
    }
  }
}

/** A.3: the contact sent `type` to the user. */
export function inbound(state: SubState, type: SubscriptionType): Outcome {
  const to = hasTo(state.subscription);
  const from = hasFrom(state.subscription);
  switch (type) {
    case 'subscribe':
      // §3.1.3: already subscribed → the server answers for the user and does not bother the client.
      if (from) return outcome(state, state, { autoReply: true, sendPresence: true });
      if (state.approved) {
        // §3.4.1: pre-approved → approved on the user's behalf, without delivering the request.
        const next = { ...state, subscription: subscriptionOf(to, true), pendingIn: false, approved: false };
        return outcome(state, next, { autoReply: true, sendPresence: true });
      }
      // A.3.1: a request that is already pending is not delivered again (it is redelivered at login).
      if (state.pendingIn) return outcome(state, state, {});
      return outcome(state, { ...state, pendingIn: true }, { deliver: true });
    case 'unsubscribe': {
      // A.3.2: From and Pending In end; delivered only when something changed.
      const next = { ...state, subscription: subscriptionOf(to, false), pendingIn: false };
      const result = outcome(state, next, { sendUnavailable: from });
      // §3.3.3: the contact no longer receives the user's presence, so it gets unavailable from each resource.
      return { ...result, deliver: result.changed };
    }
    case 'subscribed':
      // A.3.3: only an approval the user asked for counts; anything else is dropped silently.
      if (!state.askOut) return outcome(state, state, {});
      return outcome(state, { ...state, subscription: subscriptionOf(true, from), askOut: false }, { deliver: true });
    case 'unsubscribed':
      // A.3.4: a denial of Pending Out or a cancellation of To; otherwise dropped.
      if (!state.askOut && !to) return outcome(state, state, {});
      return outcome(state, { ...state, subscription: subscriptionOf(false, from), askOut: false }, { deliver: true });
  }
}
