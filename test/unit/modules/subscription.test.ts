// RFC 6121 Appendix A state tables, row by row, against the pure state machine.
import t from 'tap';
import { inbound, NO_SUBSCRIPTION, outbound, type SubState, type SubscriptionType } from '../../../src/modules/presence/subscription.ts';

// Labels as in RFC 6121 A.1 ("PO" = Pending Out, "PI" = Pending In), plus "A" for a §3.4 pre-approval.
function st(label: string): SubState {
  const parts = label.split('+');
  const base = (parts[0] ?? 'None').toLowerCase() as SubState['subscription'];
  return { subscription: base, askOut: parts.includes('PO'), pendingIn: parts.includes('PI'), approved: parts.includes('A') };
}

function label(s: SubState): string {
  const base = s.subscription === 'none' ? 'None' : s.subscription === 'to' ? 'To' : s.subscription === 'from' ? 'From' : 'Both';
  return [base, ...(s.askOut ? ['PO'] : []), ...(s.pendingIn ? ['PI'] : []), ...(s.approved ? ['A'] : [])].join('+');
}

const STATES = ['None', 'None+PO', 'None+PI', 'None+PO+PI', 'To', 'To+PI', 'From', 'From+PO', 'Both'];

// [state, new state] per A.2 table, in STATES order.
const OUTBOUND: Record<SubscriptionType, string[]> = {
  subscribe: ['None+PO', 'None+PO', 'None+PO+PI', 'None+PO+PI', 'To', 'To+PI', 'From+PO', 'From+PO', 'Both'], // A.2.1
  unsubscribe: ['None', 'None', 'None+PI', 'None+PI', 'None', 'None+PI', 'From', 'From', 'From'], // A.2.2
  subscribed: ['None+A', 'None+PO+A', 'From', 'From+PO', 'To+A', 'Both', 'From', 'From+PO', 'Both'], // A.2.3 (+ §3.4)
  unsubscribed: ['None', 'None+PO', 'None', 'None+PO', 'To', 'To', 'None', 'None+PO', 'To'], // A.2.4
};

// [deliver?, new state] per A.3 table.
const INBOUND: Record<SubscriptionType, [boolean, string][]> = {
  subscribe: [
    [true, 'None+PI'],
    [true, 'None+PO+PI'],
    [false, 'None+PI'],
    [false, 'None+PO+PI'],
    [true, 'To+PI'],
    [false, 'To+PI'],
    [false, 'From'],
    [false, 'From+PO'],
    [false, 'Both'],
  ], // A.3.1
  unsubscribe: [
    [false, 'None'],
    [false, 'None+PO'],
    [true, 'None'],
    [true, 'None+PO'],
    [false, 'To'],
    [true, 'To'],
    [true, 'None'],
    [true, 'None+PO'],
    [true, 'To'],
  ], // A.3.2
  subscribed: [
    [false, 'None'],
    [true, 'To'],
    [false, 'None+PI'],
    [true, 'To+PI'],
    [false, 'To'],
    [false, 'To+PI'],
    [false, 'From'],
    [true, 'Both'],
    [false, 'Both'],
  ], // A.3.3
  unsubscribed: [
    [false, 'None'],
    [true, 'None'],
    [false, 'None+PI'],
    [true, 'None+PI'],
    [true, 'None'],
    [true, 'None+PI'],
    [false, 'From'],
    [true, 'From'],
    [true, 'From'],
  ], // A.3.4
};

t.test('labels round-trip', async (t) => {
  for (const s of STATES) t.equal(label(st(s)), s);
  t.equal(label(NO_SUBSCRIPTION), 'None');
});

t.test('A.2 outbound transitions', async (t) => {
  for (const [type, row] of Object.entries(OUTBOUND) as [SubscriptionType, string[]][]) {
    STATES.forEach((state, i) => {
      const out = outbound(st(state), type);
      t.equal(label(out.next), row[i], `${type} from ${state}`);
      t.equal(out.changed, row[i] !== state, `${type} from ${state}: changed flag`);
      t.equal(out.deliver, false, 'outbound never delivers locally');
    });
  }
});

t.test('A.3 inbound transitions and delivery', async (t) => {
  for (const [type, row] of Object.entries(INBOUND) as [SubscriptionType, [boolean, string][]][]) {
    STATES.forEach((state, i) => {
      const [deliver, next] = row[i] as [boolean, string];
      const out = inbound(st(state), type);
      t.equal(label(out.next), next, `${type} from ${state}`);
      t.equal(out.deliver, deliver, `${type} from ${state}: deliver`);
      t.equal(out.route, false, 'inbound never routes the stanza itself');
    });
  }
});

t.test('outbound routing (§3.1.2, §3.1.5, §3.4)', async (t) => {
  for (const s of STATES) {
    t.ok(outbound(st(s), 'subscribe').route, `subscribe from ${s} is routed`);
    t.ok(outbound(st(s), 'unsubscribe').route, `unsubscribe from ${s} is routed`);
    t.ok(outbound(st(s), 'unsubscribed').route, `unsubscribed from ${s} is routed`);
  }
  // Approving a pending request: routed, and the user's presence follows (§3.1.5).
  const approve = outbound(st('None+PI'), 'subscribed');
  t.ok(approve.route);
  t.ok(approve.sendPresence);
  // No request pending: a pre-approval, kept local.
  const pre = outbound(st('None'), 'subscribed');
  t.notOk(pre.route);
  t.notOk(pre.sendPresence);
  t.equal(label(pre.next), 'None+A');
  // Pre-approving twice changes nothing.
  t.notOk(outbound(st('None+A'), 'subscribed').changed);
  // Cancelling only a pre-approval stays local too.
  const cancel = outbound(st('None+A'), 'unsubscribed');
  t.equal(label(cancel.next), 'None');
  t.notOk(cancel.route);
});

t.test('unavailable goes to whoever loses From (§3.2.2, §3.3.3)', async (t) => {
  t.ok(outbound(st('Both'), 'unsubscribed').sendUnavailable);
  t.ok(outbound(st('From+PO'), 'unsubscribed').sendUnavailable);
  t.notOk(outbound(st('None+PI'), 'unsubscribed').sendUnavailable, 'a denied request never saw presence');
  t.ok(inbound(st('From'), 'unsubscribe').sendUnavailable);
  t.ok(inbound(st('Both'), 'unsubscribe').sendUnavailable);
  t.notOk(inbound(st('To+PI'), 'unsubscribe').sendUnavailable);
  t.notOk(inbound(st('Both'), 'unsubscribed').sendUnavailable, 'losing To does not hide our own presence');
});

t.test('inbound subscribe from an existing subscriber is answered by the server (§3.1.3)', async (t) => {
  for (const s of ['From', 'From+PO', 'Both']) {
    const out = inbound(st(s), 'subscribe');
    t.ok(out.autoReply, s);
    t.notOk(out.deliver, s);
    t.notOk(out.changed, s);
  }
  t.notOk(inbound(st('None'), 'subscribe').autoReply);
});

t.test('inbound subscribe after a pre-approval is accepted without asking (§3.4)', async (t) => {
  const cases: [string, string][] = [
    ['None+A', 'From'],
    ['None+PO+A', 'From+PO'],
    ['To+A', 'Both'],
  ];
  for (const [from, to] of cases) {
    const out = inbound(st(from), 'subscribe');
    t.equal(label(out.next), to, from);
    t.ok(out.autoReply, `${from}: auto-reply`);
    t.ok(out.sendPresence, `${from}: presence follows`);
    t.notOk(out.deliver, `${from}: the client is not asked`);
  }
});
