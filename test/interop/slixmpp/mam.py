"""Scenario: XEP-0313 message archives with XEP-0059 paging, against Prosody 0.12 (the reference) and waddle.

Personal archives: alice and bob (homed on different shards) exchange 30 messages, one at a time so the
archive order is defined, among them a correction (XEP-0308), a reaction (XEP-0444), a reply (XEP-0461)
and a displayed marker (XEP-0333). Each then pages through its archive with max=10 backwards from the
end (<before/>) and forwards with <after/>; counts, order, the complete flag, the archive ids (equal to
the live <stanza-id/>) and the extensions are checked. Then the `with` filter (a third user, carol), and
a room archive: a MAM query to a room JID returns the room's messages in order with paging.

Config: the common one plus rooms {archive} (a room bare JID). Users: alice, bob, carol.
"""
from common import Client, JID, bare, run
from groupchat import (NS_MAM, NS_SID, body_of, disco_info, el, groupchat_from, join_room, mam_query, new_id, q, rsm_of,
                       send_iq, stanza_id_by)

N = 30
PAGE = 10
NS_CORRECT = 'urn:xmpp:message-correct:0'
NS_REACTIONS = 'urn:xmpp:reactions:0'
NS_REPLY = 'urn:xmpp:reply:0'
NS_MARKERS = 'urn:xmpp:chat-markers:0'
NS_HINTS = 'urn:xmpp:hints'
THUMBS = '\U0001F44D'


def build(sender, receiver, i, ids, peer_full):
    """Message i of the conversation: its stanza, and the checks its archived copy must pass."""
    msg = sender.make_message(mto=JID(receiver), mtype='chat')
    msg['id'] = ids[i]
    msg.appendxml(el(NS_SID, 'origin-id', {'id': ids[i]}))
    body = 'msg %02d' % i
    check = None
    if i == 10:  # XEP-0308 §3: a correction of message 8 (alice's)
        body = 'msg 08, corrected'
        msg.appendxml(el(NS_CORRECT, 'replace', {'id': ids[8]}))
        check = ('correction (XEP-0308)', lambda m: m.find(q(NS_CORRECT, 'replace')) is not None
                 and m.find(q(NS_CORRECT, 'replace')).get('id') == ids[8])
    elif i == 15:  # XEP-0444 §3: a reaction, no body; the store hint asks for archiving (XEP-0334)
        body = None
        msg.appendxml(el(NS_REACTIONS, 'reactions', {'id': ids[14]}, children=[el(NS_REACTIONS, 'reaction', text=THUMBS)]))
        msg.appendxml(el(NS_HINTS, 'store'))

        def reacted(m):
            r = m.find(q(NS_REACTIONS, 'reactions'))
            return r is not None and r.get('id') == ids[14] and [x.text for x in r] == [THUMBS]
        check = ('reaction (XEP-0444)', reacted)
    elif i == 20:  # XEP-0461 §3: a reply to bob's message 19
        body = 'msg 20, a reply'
        msg.appendxml(el(NS_REPLY, 'reply', {'to': peer_full, 'id': ids[19]}))
        check = ('reply (XEP-0461)', lambda m: m.find(q(NS_REPLY, 'reply')) is not None
                 and m.find(q(NS_REPLY, 'reply')).get('id') == ids[19] and m.find(q(NS_REPLY, 'reply')).get('to') == peer_full)
    elif i == 24:  # XEP-0333 §4: markable, so that 25 may mark it displayed
        msg.appendxml(el(NS_MARKERS, 'markable'))
    elif i == 25:  # XEP-0333 §4: a displayed marker, no body
        body = None
        msg.appendxml(el(NS_MARKERS, 'displayed', {'id': ids[24]}))
        check = ('displayed marker (XEP-0333)', lambda m: m.find(q(NS_MARKERS, 'displayed')) is not None
                 and m.find(q(NS_MARKERS, 'displayed')).get('id') == ids[24])
    if body is not None:
        msg['body'] = body
    return msg, body, check


async def conversation(report, alice, bob, a_jid, b_jid):
    ids = [new_id('m%02d' % i) for i in range(N)]
    bodies, checks, live_ids = [], {}, {}
    for i in range(N):
        sender, receiver, to = (alice, bob, b_jid) if i % 2 == 0 else (bob, alice, a_jid)
        msg, body, check = build(sender, to, i, ids, str(receiver.boundjid))
        bodies.append(body)
        if check:
            checks[i] = check
        msg.send()
        got = await receiver.wait_for(lambda s, mid=ids[i]: s.name == 'message' and s['id'] == mid)
        if got is None:
            report.check('message %d reaches the peer' % i, False, 'not received')
            continue
        # XEP-0313 §5.1 / XEP-0359 §4: the receiver's server stamps the archive id as <stanza-id by=receiver>.
        live_ids[ids[i]] = stanza_id_by(got, str(receiver.boundjid.bare))
    report.check('all %d messages reached their peer' % N, len(live_ids) == N, len(live_ids))
    report.check('every delivered message has a stanza-id by the receiving account (XEP-0313 §5.1)',
                 all(live_ids.values()) and len(live_ids) == N, [k for k, v in live_ids.items() if not v][:5])
    return ids, bodies, checks, live_ids


async def page_through(report, who, client, ids, backwards):
    """Pages through the whole archive with max=10; returns the result list (in chronological order)."""
    pages, cursor, out = [], None, []
    direction = 'backwards from the end' if backwards else 'forwards'
    for n in range(N // PAGE + 1):
        if backwards:
            kind, results, fin = await mam_query(report, client, max_items=PAGE, before=cursor or '')
        else:
            kind, results, fin = await mam_query(report, client, max_items=PAGE, after=cursor)
        first, last, count, complete = rsm_of(fin)
        pages.append((kind, len(results), complete))
        if kind != 'result':
            break
        got_ids = [m.get('id') if m is not None else None for _, m, _, _ in results]
        lo = N - PAGE * (n + 1) if backwards else PAGE * n
        expect = ids[max(lo, 0):lo + PAGE] if lo + PAGE > 0 else []
        report.check('%s: page %d %s has messages %d..%d in chronological order (XEP-0313 §4.3)' % (
            who, n + 1, direction, max(lo, 0), lo + PAGE - 1), got_ids == expect, got_ids)
        report.check('%s: page %d first/last are the ids of its first and last result (XEP-0059 §2.6)' % (who, n + 1),
                     bool(results) and first == results[0][0] and last == results[-1][0], '%s %s' % (first, last))
        if count is not None:
            report.check('%s: page %d count, when given, is the archive size %d (XEP-0059 §2.6)' % (who, n + 1, N),
                         count == N, count)
        final = n == N // PAGE - 1
        report.check('%s: page %d complete=%s (XEP-0313 §4.3)' % (who, n + 1, str(final).lower()), complete == final, complete)
        out = results + out if backwards else out + results
        if final or not results:
            break
        cursor = first if backwards else last
    return out


async def query_protocol(report, client, feats, ids):
    """The query form, an unknown paging id, and (where advertised) the #extended flip-page."""
    # XEP-0313 §4.1.5: an iq get returns the query form with the standard fields.
    kind, iq = await send_iq(report, client, None, 'get', el(NS_MAM, 'query'))
    form = iq.xml.find('%s/%s' % (q(NS_MAM, 'query'), q('jabber:x:data', 'x'))) if kind == 'result' else None
    fields = {f.get('var') for f in form.findall(q('jabber:x:data', 'field'))} if form is not None else set()
    report.check('the query form has FORM_TYPE, with, start and end (XEP-0313 §4.1.5)',
                 {'FORM_TYPE', 'with', 'start', 'end'} <= fields, '%s %s' % (kind, sorted(f for f in fields if f)))
    # XEP-0313 §4.3 / XEP-0059: paging after an id the archive does not hold is item-not-found.
    kind, results, _ = await mam_query(report, client, max_items=PAGE, after='no-such-archive-id')
    report.check('paging after an unknown id fails with item-not-found (XEP-0313 §4.3)',
                 kind == 'error:item-not-found' and not results, '%s %d' % (kind, len(results)))
    if NS_MAM + '#extended' in feats:
        # XEP-0313 §4.3.1 (#extended): flip-page returns the page in reverse chronological order.
        kind, results, _ = await mam_query(report, client, max_items=PAGE, before='', flip=True)
        got = [m.get('id') if m is not None else None for _, m, _, _ in results]
        report.check('flip-page returns the last page newest first (XEP-0313 §4.3.1, #extended advertised)',
                     got == list(reversed(ids[-PAGE:])), got)


async def personal_archives(report, alice, bob, carol, a_jid, b_jid, c_jid):
    kind, feats, _, _ = await disco_info(report, alice, a_jid)
    report.check("alice: her account advertises urn:xmpp:mam:2 (XEP-0313 §7)", NS_MAM in feats, '%s %s' % (kind, sorted(feats)))
    ids, bodies, checks, live_ids = await conversation(report, alice, bob, a_jid, b_jid)
    for who, client, me in (('alice', alice, a_jid), ('bob', bob, b_jid)):
        back = await page_through(report, who, client, ids, backwards=True)
        fwd = await page_through(report, who, client, ids, backwards=False)
        report.check('%s: backwards and forwards paging return the same %d results' % (who, N),
                     [r[0] for r in back] == [r[0] for r in fwd] and len(fwd) == N, '%d %d' % (len(back), len(fwd)))
        msgs = [m for _, m, _, _ in fwd]
        report.check('%s: every result has a <forwarded/> message and a delay stamp (XEP-0313 §4.2)' % who,
                     all(m is not None and stamp for _, m, stamp, _ in fwd), '')
        report.check('%s: result wrappers come from the own account, or have no from (XEP-0313 §4.2)' % who,
                     all(f in ('', me) for _, _, _, f in fwd), {f for _, _, _, f in fwd})
        report.check('%s: bodies come back as sent, in order' % who,
                     [body_of(m) for m in msgs] == bodies, [body_of(m) for m in msgs])
        senders = [JID(m.get('from')).bare if m is not None else None for m in msgs]
        report.check('%s: senders alternate alice, bob as sent' % who,
                     senders == [a_jid if i % 2 == 0 else b_jid for i in range(N)], senders[:4])
        report.check('%s: origin-ids come back intact (XEP-0359)' % who,
                     [m.find(q(NS_SID, 'origin-id')).get('id') if m is not None and m.find(q(NS_SID, 'origin-id')) is not None
                      else None for m in msgs] == ids, '')
        for i, (name, ok) in sorted(checks.items()):
            m = msgs[i] if i < len(msgs) else None
            report.check('%s: the archived %s comes back intact' % (who, name), m is not None and ok(m),
                         '' if m is None else str(m.attrib))
        received = [(ids[i], fwd[i][0]) for i in range(min(N, len(fwd))) if (i % 2 == 1) == (who == 'alice')]
        report.check('%s: archive ids equal the live stanza-ids of received messages (XEP-0313 §5.1)' % who,
                     bool(received) and all(live_ids.get(mid) == rid for mid, rid in received),
                     [(live_ids.get(mid), rid) for mid, rid in received if live_ids.get(mid) != rid][:3])

    await query_protocol(report, alice, feats, ids)

    # XEP-0313 §4.1.1: the `with` filter.
    for i in range(2):
        mid = new_id('c%d' % i)
        msg = alice.make_message(mto=JID(c_jid), mbody='to carol %d' % i, mtype='chat')
        msg['id'] = mid
        msg.send()
        await carol.wait_for(lambda s, mid=mid: s.name == 'message' and s['id'] == mid)
    for who, client, other, expect in (('alice', alice, b_jid, N), ('alice', alice, c_jid, 2), ('bob', bob, a_jid, N),
                                       ('bob', bob, c_jid, 0)):
        kind, results, fin = await mam_query(report, client, with_jid=other, max_items=50)
        peers = {JID(m.get('from')).bare if JID(m.get('from')).bare != JID(client.boundjid).bare else JID(m.get('to')).bare
                 for _, m, _, _ in results if m is not None}
        report.check('%s: with=%s returns the %d messages with them only, complete (XEP-0313 §4.1.1)' % (who, other, expect),
                     kind == 'result' and len(results) == expect and peers <= {other} and rsm_of(fin)[3],
                     '%s %d %s' % (kind, len(results), peers))


async def room_archive(report, cfg, alice, bob, room):
    kind, pres = await join_room(alice, room, 'Alice')
    report.check('alice: creates the archived room', kind == 'joined', kind)
    kind, _ = await send_iq(report, alice, room, 'set', el('http://jabber.org/protocol/muc#owner', 'query',
                                                          children=[el('jabber:x:data', 'x', {'type': 'submit'})]))
    report.check('alice: accepts the instant-room configuration', kind == 'result', kind)
    kind, _ = await join_room(bob, room, 'Bob')
    report.check('bob: joins the archived room', kind == 'joined', kind)
    kind, feats, _, _ = await disco_info(report, bob, room)
    report.check('the room advertises urn:xmpp:mam:2 (XEP-0313 §7)', NS_MAM in feats, sorted(feats))
    bodies, live = [], []
    for i in range(12):
        sender, other = (alice, bob) if i % 2 == 0 else (bob, alice)
        body = 'room %02d' % i
        msg = sender.make_message(mto=JID(room), mbody=body, mtype='groupchat')
        msg.send()
        got = await other.wait_for(groupchat_from(room, None, body))
        await sender.wait_for(groupchat_from(room, None, body))
        bodies.append(body)
        live.append(stanza_id_by(got, room) if got is not None else None)
    # Paged forwards with max=5: 5, 5, 2 (XEP-0313 §4.3 with XEP-0059 paging).
    got, cursor, pages = [], None, []
    for n in range(3):
        kind, results, fin = await mam_query(report, bob, archive=room, max_items=5, after=cursor)
        first, last, _, complete = rsm_of(fin)
        pages.append((kind, len(results), complete))
        got.extend(results)
        if kind != 'result' or not results:
            break
        cursor = last
    report.check('bob: the room archive pages forwards as 5, 5, 2 with complete on the last (XEP-0313 §4.3)',
                 pages == [('result', 5, False), ('result', 5, False), ('result', 2, True)], pages)
    report.check('bob: room archive bodies in order', [body_of(m) for _, m, _, _ in got] == bodies,
                 [body_of(m) for _, m, _, _ in got])
    report.check('bob: archived room messages come from room/nick, type groupchat (XEP-0313 §6.1.2)',
                 [m.get('from') if m is not None else None for _, m, _, _ in got]
                 == ['%s/%s' % (room, 'Alice' if i % 2 == 0 else 'Bob') for i in range(12)]
                 and all(m is not None and m.get('type') == 'groupchat' for _, m, _, _ in got),
                 [m.get('from') if m is not None else None for _, m, _, _ in got][:3])
    report.check('bob: result wrappers come from the room JID (XEP-0313 §4.2)', {f for _, _, _, f in got} == {room},
                 {f for _, _, _, f in got})
    report.check('bob: room archive ids equal the live stanza-ids by the room (XEP-0359, XEP-0313 §5.1)',
                 [r for r, _, _, _ in got] == live and None not in live, '')
    kind, results, fin = await mam_query(report, alice, archive=room, max_items=5, before='')
    report.check('alice: the last page backwards is messages 7..11, not complete (XEP-0313 §4.3)',
                 kind == 'result' and [body_of(m) for _, m, _, _ in results] == bodies[7:] and not rsm_of(fin)[3],
                 '%s %s' % (kind, [body_of(m) for _, m, _, _ in results]))


async def scenario(cfg, report):
    a_jid, b_jid, c_jid = bare(cfg, 'alice'), bare(cfg, 'bob'), bare(cfg, 'carol')
    clients = {}
    for name, res in (('alice', 'desk'), ('bob', 'phone'), ('carol', 'tablet')):
        c = Client(cfg, report, name, res)
        ok, detail = await c.login()
        report.check(name + ': login', ok, detail)
        await c.go_online(name)
        clients[name] = c
    alice, bob, carol = clients['alice'], clients['bob'], clients['carol']
    await personal_archives(report, alice, bob, carol, a_jid, b_jid, c_jid)
    room = cfg['rooms']['archive']
    await room_archive(report, cfg, alice, bob, room)
    # RFC 6121 §4.6.3 / XEP-0045 §7.14: a session that ends without leaving the room is still removed, because
    # the user's server sends unavailable to every entity that got directed presence (the room, here).
    await bob.logout()
    gone = await alice.wait_for(lambda s: s.name == 'presence' and str(s['from']) == room + '/Bob'
                                and s['type'] == 'unavailable')
    report.check('alice: bob disconnecting without leaving shows as unavailable in the room (RFC 6121 §4.6.3)',
                 gone is not None)
    for c in clients.values():
        await c.logout()


run(scenario)
