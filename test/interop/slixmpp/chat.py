"""Scenario 2: two users whose sessions live on different shards. Roster add, the subscription handshake
both ways (RFC 6121 §3.1), presence both ways including unavailable on disconnect (RFC 6121 §4), and
chat messages both ways with bodies and order checked (RFC 6121 §5).

Users: alice, bob (the tap test picks them on different shards).
"""
from common import Client, bare, iq_outcome, presence_from, run

ONLINE = ('available', 'chat', 'away', 'xa', 'dnd')


def roster_push(jid, pred):
    def match(s):
        if s.name != 'iq':
            return False
        item = s['roster']['items'].get(jid)
        return item is not None and pred(item)
    return match


def sub_presence(jid, ptype):
    return lambda s: s.name == 'presence' and s['from'].bare == jid and s['type'] == ptype


async def roster_state(report, client, jid):
    # A plain get without 'ver': slixmpp's get_roster() sends the version it learnt from pushes, and a
    # server doing roster versioning then rightly answers with an empty result (RFC 6121 §2.6.3).
    iq = client.Iq(stype='get')
    iq.enable('roster')
    kind, iq = await iq_outcome(report, iq.send())
    if kind != 'result':
        return kind, None
    item = iq['roster']['items'].get(jid)
    return kind, item


async def scenario(cfg, report):
    a_jid, b_jid = bare(cfg, 'alice'), bare(cfg, 'bob')
    alice, bob = Client(cfg, report, 'alice', 'phone'), Client(cfg, report, 'bob', 'laptop')
    for name, client in (('alice', alice), ('bob', bob)):
        ok, detail = await client.login()
        report.check(name + ': login', ok, detail)
        kind, _ = await iq_outcome(report, client.get_roster())
        report.check(name + ': roster get (RFC 6121 §2.2)', kind == 'result', kind)
        await client.go_online(name)

    # RFC 6121 §2.3: roster set; the server MUST push the item to every interested resource.
    kind, _ = await iq_outcome(report, alice.update_roster(b_jid, name='Bob', groups=['Friends']))
    report.check('alice: roster set for bob returns result (RFC 6121 §2.3.2)', kind == 'result', kind)
    push = await alice.wait_for(roster_push(b_jid, lambda i: i['subscription'] == 'none' and i['name'] == 'Bob'))
    report.check('alice: roster push with the new item, subscription none (RFC 6121 §2.1.6)', push is not None,
                 push['roster'] if push is not None else 'no push')

    # RFC 6121 §3.1.2: outbound subscribe gets a roster push with ask='subscribe'.
    alice.send_presence_subscription(pto=b_jid, ptype='subscribe')
    push = await alice.wait_for(roster_push(b_jid, lambda i: i['ask'] == 'subscribe'))
    report.check("alice: roster push with ask='subscribe' (RFC 6121 §3.1.2)", push is not None,
                 push['roster'] if push is not None else 'no push')
    # RFC 6121 §3.1.3: the contact receives the request from the user's bare JID.
    req = await bob.wait_for(sub_presence(a_jid, 'subscribe'))
    report.check('bob: receives the subscription request from alice (RFC 6121 §3.1.3)', req is not None,
                 str(req['from']) if req is not None else 'nothing')
    report.check('bob: the request comes from the bare JID (RFC 6121 §3.1.2)',
                 req is not None and str(req['from']) == a_jid, str(req['from']) if req is not None else '')

    # Bob approves (RFC 6121 §3.1.4) and subscribes back.
    bob.send_presence(pto=a_jid, ptype='subscribed')
    push = await bob.wait_for(roster_push(a_jid, lambda i: i['subscription'] == 'from'))
    report.check("bob: roster push subscription='from' after approving (RFC 6121 §3.1.5)", push is not None,
                 push['roster'] if push is not None else 'no push')
    got = await alice.wait_for(sub_presence(b_jid, 'subscribed'))
    report.check('alice: receives subscribed from bob (RFC 6121 §3.1.6)', got is not None)
    push = await alice.wait_for(roster_push(b_jid, lambda i: i['subscription'] == 'to'))
    report.check("alice: roster push subscription='to' (RFC 6121 §3.1.6)", push is not None,
                 push['roster'] if push is not None else 'no push')
    # RFC 6121 §3.1.5: the contact's server MUST send the contact's available presence to the user.
    seen = await alice.wait_for(presence_from(bob.boundjid, ONLINE))
    report.check("alice: sees bob's available presence after the approval (RFC 6121 §3.1.5)", seen is not None)

    bob.send_presence_subscription(pto=a_jid, ptype='subscribe')
    req = await alice.wait_for(sub_presence(b_jid, 'subscribe'))
    report.check('alice: receives the subscription request from bob', req is not None)
    alice.send_presence(pto=b_jid, ptype='subscribed')
    got = await bob.wait_for(sub_presence(a_jid, 'subscribed'))
    report.check('bob: receives subscribed from alice', got is not None)
    seen = await bob.wait_for(presence_from(alice.boundjid, ONLINE))
    report.check("bob: sees alice's available presence after the approval (RFC 6121 §3.1.5)", seen is not None)
    push = await bob.wait_for(roster_push(a_jid, lambda i: i['subscription'] == 'both'))
    report.check("bob: roster push subscription='both'", push is not None)
    push = await alice.wait_for(roster_push(b_jid, lambda i: i['subscription'] == 'both'))
    report.check("alice: roster push subscription='both'", push is not None)

    for name, client, contact in (('alice', alice, b_jid), ('bob', bob, a_jid)):
        kind, item = await roster_state(report, client, contact)
        report.check(name + ": roster get shows subscription 'both' with no pending ask",
                     item is not None and item['subscription'] == 'both' and not item['ask'],
                     '%s %s' % (kind, item if item is not None else 'no item'))
    kind, item = await roster_state(report, alice, b_jid)
    report.check("alice: roster item keeps name 'Bob' and group 'Friends'",
                 item is not None and item['name'] == 'Bob' and list(item['groups']) == ['Friends'],
                 item if item is not None else kind)

    # RFC 6121 §5.2: chat both ways, bare-JID addressed, in order.
    for i in range(1, 4):
        alice.chat(b_jid, 'a%d' % i)
        bob.chat(a_jid, 'b%d' % i)
    for name, client, peer, expect in (('bob', bob, alice, ['a1', 'a2', 'a3']), ('alice', alice, bob, ['b1', 'b2', 'b3'])):
        await client.wait_for(lambda s: s.name == 'message' and s['body'] == expect[-1])
        got = [m['body'] for m in client.messages(lambda m: m['body'] in expect)]
        report.check(name + ': receives the three chat messages in order', got == expect, got)
        senders = {str(m['from']) for m in client.messages(lambda m: m['body'] in expect)}
        report.check(name + ": messages come from the sender's full JID of type chat",
                     senders == {str(peer.boundjid)} and all(m['type'] == 'chat' for m in client.messages(lambda m: m['body'] in expect)),
                     sorted(senders))

    # RFC 6121 §4.5.2 / RFC 6120 §4.4: when a session ends the server broadcasts unavailable for it.
    bob_full = str(bob.boundjid)
    await bob.logout()
    gone = await alice.wait_for(presence_from(bob_full, ('unavailable',)))
    report.check('alice: sees bob unavailable when he disconnects (RFC 6121 §4.5.2)', gone is not None)

    # Bob comes back: his initial presence reaches alice, and the server's probe of alice on his behalf
    # brings him alice's presence (RFC 6121 §4.2.2, §4.3.2).
    bob = Client(cfg, report, 'bob', 'tablet')
    ok, detail = await bob.login()
    report.check('bob: logs in again', ok, detail)
    await bob.go_online('bob again')
    back = await alice.wait_for(presence_from(bob.boundjid, ONLINE))
    report.check("alice: sees bob's new resource available (RFC 6121 §4.2.2)", back is not None)
    probed = await bob.wait_for(presence_from(alice.boundjid, ONLINE))
    report.check("bob: gets alice's presence in reply to his initial presence (RFC 6121 §4.3.2)", probed is not None)

    bob.chat(a_jid, 'b4')
    got = await alice.wait_for(lambda s: s.name == 'message' and s['body'] == 'b4')
    report.check("alice: receives a message from bob's new resource", got is not None and str(got['from']) == str(bob.boundjid),
                 str(got['from']) if got is not None else 'nothing')

    alice_full = str(alice.boundjid)
    await alice.logout()
    gone = await bob.wait_for(presence_from(alice_full, ('unavailable',)))
    report.check('bob: sees alice unavailable when she disconnects (RFC 6121 §4.5.2)', gone is not None)
    await bob.logout()


run(scenario)
