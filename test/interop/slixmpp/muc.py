"""Scenario: XEP-0045 group chat with three users (each on its own session; the tap test homes them on
different shards and picks rooms homed on either shard). Run against Prosody 0.12 (the reference) and
against waddle with the same checks.

Config: the common one plus muc (the service JID) and rooms {open, reserved} (room bare JIDs).
Users: alice (owner), bob, carol.

Checks that depend on an optional feature (XEP-0359 stanza-id, XEP-0421 occupant-id) run only when the
room advertises it in disco#info (XEP-0030), and say so in their name. slixmpp's xep_0045 plugin sends the
subject change and the invitation; everything else is read from the raw stanzas (groupchat.py), since
slixmpp 1.8's xep_0359 / xep_0421 plugins add nothing a check needs beyond the element itself.
"""
import asyncio

from common import QUIET_PERIOD, Client, JID, bare, run
from groupchat import (NS_DATA, NS_DISCO_ITEMS, NS_MODERATE, NS_MUC_OWNER, NS_MUC_USER, NS_PING, NS_RETRACT, NS_SID, PAIRS,
                       SELF_PING, admin_set, affiliation_list, configure, disco_info, el, error_condition, groupchat,
                       groupchat_from, join_room, muc_item, new_id, occupant_id, occupant_presence, q, self_presence,
                       send_iq, since, stanza_id_by, status_codes, unseen)


async def quiet():
    await asyncio.sleep(QUIET_PERIOD)


async def open_room_checks(cfg, report, alice, bob, carol, room, a_jid, b_jid, c_jid):
    """Creation, joins, fan-out, subject, private messages, nicks, history and leave in an open room."""
    # §10.1.1: the first joiner creates the room and becomes its owner; 201 says so.
    kind, pres = await join_room(alice, room, 'Alice')
    codes = status_codes(pres) if pres is not None else set()
    report.check('alice: creates the room, self-presence has 110 and 201 (XEP-0045 §10.1.1)',
                 kind == 'joined' and {110, 201} <= codes, '%s %s' % (kind, sorted(codes)))
    item = muc_item(pres) if pres is not None else {}
    report.check('alice: the creator is owner and moderator (XEP-0045 §10.1.1)',
                 item.get('affiliation') == 'owner' and item.get('role') == 'moderator', item)
    # §10.1.2: an empty submit accepts the default configuration and unlocks the room.
    kind, _ = await configure(report, alice, room, None)
    report.check('alice: instant room accepted with an empty muc#owner submit (XEP-0045 §10.1.2)', kind == 'result', kind)

    kind, feats, idents, _ = await disco_info(report, bob, room)
    report.check('bob: room disco#info has identity conference/text and the muc feature (XEP-0045 §6.4)',
                 kind == 'result' and ('conference', 'text') in idents and 'http://jabber.org/protocol/muc' in feats,
                 '%s %s %s' % (kind, idents, sorted(feats)))
    has_sid = NS_SID in feats
    has_occupant_id = 'urn:xmpp:occupant-id:0' in feats
    semi = 'muc_semianonymous' in feats
    for pair in PAIRS:
        report.check('room advertises exactly one of %s / %s (XEP-0045 §6.4)' % pair,
                     (pair[0] in feats) != (pair[1] in feats), sorted(feats))
    if 'muc_public' in feats:
        # XEP-0045 §6.3: disco#items on the service lists the public rooms.
        kind, iq = await send_iq(report, bob, cfg['muc'], 'get', el(NS_DISCO_ITEMS, 'query'))
        jids = {i.get('jid') for i in iq.xml.iter(q(NS_DISCO_ITEMS, 'item'))} if kind == 'result' else set()
        report.check('the service lists the public room in disco#items (XEP-0045 §6.3, muc_public advertised)',
                     room in jids, '%s %s' % (kind, sorted(jids)))

    # §7.2.3: the joiner gets every existing occupant's presence, then its own (110) last.
    for name, client, nick, others in (('bob', bob, 'Bob', ['Alice']), ('carol', carol, 'Carol', ['Alice', 'Bob'])):
        mark = len(client.received)
        kind, pres = await join_room(client, room, nick)
        report.check('%s: joins, self-presence has 110 (XEP-0045 §7.2.3)' % name, kind == 'joined', kind)
        got = since(client, mark, occupant_presence(room))
        nicks = [s['from'].resource for s in got]
        report.check('%s: occupant presences first, own presence last (XEP-0045 §7.2.3)' % name,
                     sorted(nicks[:-1]) == sorted(others) and nicks[-1:] == [nick], nicks)
        item = muc_item(pres) if pres is not None else {}
        report.check('%s: self-presence says affiliation none, role participant (XEP-0045 §5.1)' % name,
                     item.get('affiliation') == 'none' and item.get('role') == 'participant', item)
        # §7.2.15: after history the room sends its subject (empty when none) to the new occupant.
        subj = await client.wait_for(lambda s: s.name == 'message' and s['type'] == 'groupchat'
                                     and s['from'].bare == room and s.xml.find('{jabber:client}subject') is not None)
        report.check('%s: receives the room subject after joining (XEP-0045 §7.2.15)' % name, subj is not None)
    seen = await alice.wait_for(occupant_presence(room, 'Carol'))
    report.check("alice: sees carol's join presence (XEP-0045 §7.2.3)", seen is not None)
    # §7.2.4 / §7.2.5: in a semi-anonymous room only moderators see real JIDs.
    if seen is not None:
        jid_seen = JID(muc_item(seen).get('jid', '')).bare
        report.check("alice (moderator): carol's presence carries her real JID (XEP-0045 §7.2.4/§7.2.5)",
                     jid_seen == c_jid, muc_item(seen))
    a_to_c = next(iter(since(carol, 0, occupant_presence(room, 'Alice'))), None)
    if semi and a_to_c is not None:
        report.check("carol (participant, semi-anonymous room): no real JID in alice's presence (XEP-0045 §7.2.4)",
                     'jid' not in muc_item(a_to_c), muc_item(a_to_c))

    # §7.4: every occupant, the sender included, receives each groupchat message once, from room/nick.
    marks = {n: len(c.received) for n, c in (('alice', alice), ('bob', bob), ('carol', carol))}
    sent = {}
    for name, client, nick in (('alice', alice, 'Alice'), ('bob', bob, 'Bob'), ('carol', carol, 'Carol')):
        body = 'hello from %s' % nick
        sent[body] = (nick, groupchat(client, room, body))
    copies = {}
    for name, client in (('alice', alice), ('bob', bob), ('carol', carol)):
        for body in sent:
            await client.wait_for(groupchat_from(room, None, body))
    await quiet()
    for name, client in (('alice', alice), ('bob', bob), ('carol', carol)):
        for body, (nick, mid) in sent.items():
            got = since(client, marks[name], groupchat_from(room, nick, body))
            copies.setdefault(body, []).extend(got)
            report.check('%s: receives "%s" exactly once from room/%s (XEP-0045 §7.4)' % (name, body, nick),
                         len(got) == 1, len(got))
    for body, (nick, mid) in sent.items():
        echo = [m for m in copies.get(body, []) if m['to'].bare == bare(cfg, nick.lower())]
        report.check('%s: the reflected copy keeps the message id (XEP-0045 §7.4)' % nick,
                     len(echo) == 1 and echo[0]['id'] == mid, [m['id'] for m in echo])
        if has_sid:
            ids = {stanza_id_by(m, room) for m in copies.get(body, [])}
            report.check('"%s": every copy has one stanza-id by the room, the same for all (XEP-0359 §4, advertised)' % body,
                         len(copies.get(body, [])) == 3 and len(ids) == 1 and None not in ids, ids)
        if has_occupant_id:
            oids = {occupant_id(m) for m in copies.get(body, [])}
            report.check('"%s": every copy has the same occupant-id (XEP-0421 §4, advertised)' % body,
                         len(oids) == 1 and None not in oids, oids)

    if has_occupant_id:
        # XEP-0421 §4: the same occupant-id on the occupant's presence as on its messages.
        pres_bob = next(iter(since(carol, 0, occupant_presence(room, 'Bob'))), None)
        msg_bob = next(iter(since(carol, 0, groupchat_from(room, 'Bob', 'hello from Bob'))), None)
        report.check("carol: bob's presence and message carry the same occupant-id (XEP-0421 §4, advertised)",
                     pres_bob is not None and msg_bob is not None and occupant_id(pres_bob) == occupant_id(msg_bob)
                     and occupant_id(pres_bob) is not None,
                     '%s %s' % (occupant_id(pres_bob) if pres_bob is not None else None,
                                occupant_id(msg_bob) if msg_bob is not None else None))

    # §7.7: a presence change (show/status) is broadcast to every occupant from room/nick.
    carol.send_presence(pto=JID(room + '/Carol'), pshow='away', pstatus='brb')
    for name, client in (('alice', alice), ('bob', bob), ('carol', carol)):
        got = await client.wait_for(lambda s: occupant_presence(room, 'Carol', ('away',))(s))
        report.check('%s: sees carol away with status "brb" (XEP-0045 §7.7)' % name,
                     got is not None and got['status'] == 'brb', got['status'] if got is not None else 'nothing')

    if NS_MODERATE in feats:
        await moderated_retraction(report, alice, bob, carol, room, copies)
    if SELF_PING in feats:
        # XEP-0410 §3: a ping to one's own occupant JID is answered by the service while joined.
        kind, _ = await send_iq(report, alice, room + '/Alice', 'get', el(NS_PING, 'ping'))
        report.check('alice: self-ping to room/Alice while joined: result (XEP-0410 §3, advertised)', kind == 'result', kind)

    # §8.1: subject change, broadcast to all occupants from the changer's occupant JID.
    alice.plugin['xep_0045'].set_subject(JID(room), 'Interop subject')
    for name, client in (('alice', alice), ('bob', bob), ('carol', carol)):
        got = await client.wait_for(lambda s: s.name == 'message' and str(s['from']) == room + '/Alice'
                                    and s['subject'] == 'Interop subject')
        report.check('%s: receives the new subject from room/Alice (XEP-0045 §8.1)' % name, got is not None)

    # §7.5: private message through the room; the recipient sees room/nick, never the real JID.
    pm = bob.make_message(mto=JID(room + '/Carol'), mbody='psst carol', mtype='chat')
    pm.appendxml(el(NS_MUC_USER, 'x'))
    pm.send()
    got = await carol.wait_for(lambda s: s.name == 'message' and s['body'] == 'psst carol')
    report.check('carol: private message arrives from room/Bob, type chat (XEP-0045 §7.5)',
                 got is not None and str(got['from']) == room + '/Bob' and got['type'] == 'chat',
                 '%s %s' % (got['from'], got['type']) if got is not None else 'nothing')
    others = since(alice, 0, lambda s: s.name == 'message' and s['body'] == 'psst carol')
    report.check('alice: does not see the private message (XEP-0045 §7.5)', not others, len(others))
    pm = bob.make_message(mto=JID(room + '/Nobody'), mbody='anyone?', mtype='chat')
    pm['id'] = new_id('pm')
    pm.send()
    err = await bob.wait_for(lambda s: s.name == 'message' and s['id'] == pm['id'] and s['type'] == 'error')
    report.check('bob: a private message to an absent nick bounces item-not-found (XEP-0045 §7.5)',
                 err is not None and error_condition(err) == 'item-not-found', error_condition(err) if err is not None else 'none')

    # §7.6: nick change: unavailable with 303 and the new nick, then available under the new nick.
    carol.send_presence(pto=JID(room + '/Caroline'))
    for name, client in (('alice', alice), ('bob', bob), ('carol', carol)):
        gone = await client.wait_for(occupant_presence(room, 'Carol', ('unavailable',)))
        ok = gone is not None and 303 in status_codes(gone) and muc_item(gone).get('nick') == 'Caroline'
        report.check('%s: nick change announced as unavailable with 303 and nick=Caroline (XEP-0045 §7.6)' % name, ok,
                     '%s %s' % (sorted(status_codes(gone)), muc_item(gone)) if gone is not None else 'nothing')
        back = await client.wait_for(occupant_presence(room, 'Caroline'))
        report.check('%s: then presence from room/Caroline (XEP-0045 §7.6)' % name, back is not None)
    # §7.6: a nick another occupant holds is a conflict; the occupant keeps its nick.
    mark = len(bob.received)
    bob.send_presence(pto=JID(room + '/Alice'))
    err = await bob.wait_for(lambda s: s.name == 'presence' and s['type'] == 'error' and s['from'].bare == room)
    report.check('bob: changing to a taken nick fails with conflict (XEP-0045 §7.6)',
                 err is not None and error_condition(err) == 'conflict', error_condition(err) if err is not None else 'none')
    await quiet()
    report.check('bob: keeps his nick after the conflict (no 303 for him)',
                 not since(bob, mark, lambda s: occupant_presence(room, 'Bob', ('unavailable',))(s)), '')

    # §7.14: leaving: the leaver gets its own unavailable (110), the others see it.
    new_b = unseen(bob)
    bob.send_presence(pto=JID(room + '/Bob'), ptype='unavailable')
    left = await bob.wait_for(new_b(self_presence(room, ('unavailable',))))
    report.check('bob: leaving is confirmed by unavailable with 110 (XEP-0045 §7.14)', left is not None)
    seen = await alice.wait_for(occupant_presence(room, 'Bob', ('unavailable',)))
    report.check('alice: sees bob leave (XEP-0045 §7.14)', seen is not None)

    # §7.2.15: a late joiner gets the last messages as history with a delay stamped by the room.
    bodies = ['history %d' % i for i in range(1, 6)]
    for body in bodies:
        groupchat(alice, room, body)
    await alice.wait_for(groupchat_from(room, 'Alice', bodies[-1]))
    mark = len(bob.received)
    earlier = {id(s) for s in bob.received}
    kind, pres = await join_room(bob, room, 'Bob', history={'maxstanzas': 3})
    report.check('bob: rejoins', kind == 'joined', kind)
    subj = await bob.wait_for(lambda s: s.name == 'message' and s['from'].bare == room and s['subject'] == 'Interop subject'
                              and id(s) not in earlier)
    report.check('bob: gets the current subject on rejoin (XEP-0045 §7.2.15)', subj is not None)
    hist = since(bob, mark, lambda s: groupchat_from(room)(s) and s['body'] in bodies)
    report.check('bob: history with maxstanzas=3 is the last three messages in order (XEP-0045 §7.2.15)',
                 [m['body'] for m in hist] == bodies[-3:], [m['body'] for m in hist])
    report.check('bob: each history message has a delay from the room (XEP-0045 §7.2.15, XEP-0203)',
                 bool(hist) and all(m['delay']['from'] == JID(room) and m['delay']['stamp'] for m in hist),
                 [str(m['delay']['from']) for m in hist])
    position = {id(s): i for i, s in enumerate(bob.received)}
    order = [position.get(id(s), -1) for s in ([pres] if pres is not None else []) + hist + ([subj] if subj is not None else [])]
    report.check('bob: self-presence, then history, then subject (XEP-0045 §7.2.15)', order == sorted(order), order)
    report.check('bob: history messages come from room/Alice', all(str(m['from']) == room + '/Alice' for m in hist),
                 [str(m['from']) for m in hist])
    return feats


async def moderated_retraction(report, alice, bob, carol, room, copies):
    """XEP-0425 (urn:xmpp:message-moderate:1): a moderator retracts carol's message by its room stanza-id."""
    target = copies.get('hello from Carol') or []
    sid = stanza_id_by(target[0], room) if target else None
    kind, _ = await send_iq(report, carol, room, 'set', el(NS_MODERATE, 'moderate', {'id': sid or 'none'},
                                                            children=[el(NS_RETRACT, 'retract')]))
    report.check('carol (participant): a moderation request is forbidden (XEP-0425 §4.2, advertised)',
                 kind == 'error:forbidden', kind)
    marks = {c: unseen(c) for c in (alice, bob, carol)}
    kind, _ = await send_iq(report, alice, room, 'set', el(NS_MODERATE, 'moderate', {'id': sid or 'none'}, children=[
        el(NS_RETRACT, 'retract'), el(NS_MODERATE, 'reason', text='off topic')]))
    report.check('alice (moderator): retracting carol\'s message succeeds (XEP-0425 §4.1, advertised)', kind == 'result', kind)
    for name, client in (('alice', alice), ('bob', bob), ('carol', carol)):
        got = await client.wait_for(marks[client](lambda s: s.name == 'message' and str(s['from']) == room
                                                  and s.xml.find(q(NS_RETRACT, 'retract')) is not None))
        r = got.xml.find(q(NS_RETRACT, 'retract')) if got is not None else None
        report.check('%s: the room announces the retraction of that stanza-id, moderated (XEP-0425 §4.1)' % name,
                     r is not None and r.get('id') == sid and r.find(q(NS_MODERATE, 'moderated')) is not None,
                     str(got) if got is not None else 'nothing')


async def moderation_checks(cfg, report, alice, bob, carol, room, feats, a_jid, b_jid, c_jid):
    # §8.2: kick = role none; the kicked occupant and the others get unavailable with 307.
    new_a, new_b, new_c = unseen(alice), unseen(bob), unseen(carol)
    kind, _ = await admin_set(report, alice, room, {'nick': 'Caroline', 'role': 'none'}, 'be nice')
    report.check('alice: kicks carol (XEP-0045 §8.2)', kind == 'result', kind)
    got = await carol.wait_for(new_c(self_presence(room, ('unavailable',))))
    report.check('carol: gets unavailable with 307 and 110 (XEP-0045 §8.2)',
                 got is not None and {307, 110} <= status_codes(got), sorted(status_codes(got)) if got is not None else 'nothing')
    got = await bob.wait_for(new_b(occupant_presence(room, 'Caroline', ('unavailable',))))
    report.check('bob: sees carol kicked with 307 (XEP-0045 §8.2)',
                 got is not None and 307 in status_codes(got), sorted(status_codes(got)) if got is not None else 'nothing')

    if SELF_PING in feats:
        # XEP-0410 §3: once out of the room, a self-ping is answered not-acceptable.
        kind, _ = await send_iq(report, carol, room + '/Caroline', 'get', el(NS_PING, 'ping'))
        report.check('carol: self-ping after the kick: not-acceptable (XEP-0410 §3, advertised)',
                     kind == 'error:not-acceptable', kind)
    # §7.4: only occupants may send to the room; the kicked carol gets not-acceptable.
    mid = groupchat(carol, room, 'am I still here?')
    err = await carol.wait_for(lambda s: s.name == 'message' and s['id'] == mid and s['type'] == 'error')
    report.check('carol: a groupchat message from a non-occupant bounces not-acceptable (XEP-0045 §7.4)',
                 err is not None and error_condition(err) == 'not-acceptable', error_condition(err) if err is not None else 'none')
    await quiet()
    report.check('bob: never sees the non-occupant message (XEP-0045 §7.4)',
                 not since(bob, 0, groupchat_from(room, None, 'am I still here?')), '')

    # §9.1: ban = affiliation outcast; 301 to everyone; the banned user cannot rejoin (§7.2.7 forbidden).
    kind, _ = await admin_set(report, alice, room, {'jid': b_jid, 'affiliation': 'outcast'}, 'spam')
    report.check('alice: bans bob (XEP-0045 §9.1)', kind == 'result', kind)
    got = await bob.wait_for(new_b(self_presence(room, ('unavailable',))))
    report.check('bob: gets unavailable with 301 (XEP-0045 §9.1)',
                 got is not None and 301 in status_codes(got), sorted(status_codes(got)) if got is not None else 'nothing')
    got = await alice.wait_for(new_a(occupant_presence(room, 'Bob', ('unavailable',))))
    report.check('alice: sees bob banned with 301 (XEP-0045 §9.1)', got is not None and 301 in status_codes(got))
    kind, _ = await join_room(bob, room, 'Bob2')
    report.check('bob: rejoining after the ban is forbidden (XEP-0045 §7.2.7)', kind == 'error:forbidden', kind)

    # §9.3 / §9.5 / §10.5: affiliation lists.
    kind, _ = await admin_set(report, alice, room, {'jid': c_jid, 'affiliation': 'member'})
    report.check('alice: makes carol a member (XEP-0045 §9.3)', kind == 'result', kind)
    for aff, expect in (('owner', [a_jid]), ('admin', []), ('member', [c_jid]), ('outcast', [b_jid])):
        kind, jids = await affiliation_list(report, alice, room, aff)
        report.check('alice: %s list is %s (XEP-0045 §9/§10)' % (aff, expect), kind == 'result' and jids == expect,
                     '%s %s' % (kind, jids))
    kind, _ = await affiliation_list(report, carol, room, 'outcast')
    report.check('carol (member): may not read the outcast list: forbidden (XEP-0045 §9.2)', kind == 'error:forbidden', kind)


async def reserved_room_checks(cfg, report, alice, bob, carol, room, alt, a_jid, b_jid, c_jid):
    # §10.1.3: reserved room: fetch the configuration form, submit it.
    kind, pres = await join_room(alice, room, 'Alice')
    report.check('alice: creates the reserved room (201) (XEP-0045 §10.1.3)',
                 kind == 'joined' and 201 in status_codes(pres), kind)
    kind, iq = await send_iq(report, alice, room, 'get', el(NS_MUC_OWNER, 'query'))
    form = iq.xml.find('%s/%s' % (q(NS_MUC_OWNER, 'query'), q(NS_DATA, 'x'))) if kind == 'result' else None
    vars_ = {f.get('var') for f in form.findall(q(NS_DATA, 'field')) if f.get('var')} if form is not None else set()
    want = {'FORM_TYPE', 'muc#roomconfig_persistentroom', 'muc#roomconfig_membersonly', 'muc#roomconfig_moderatedroom'}
    report.check('alice: the configuration form has the muc#roomconfig fields (XEP-0045 §10.1.3, §15.5.3)',
                 want <= vars_, '%s %s' % (kind, sorted(vars_)))
    kind, _ = await configure(report, alice, room, {
        'muc#roomconfig_roomname': 'Reserved', 'muc#roomconfig_persistentroom': '1',
        'muc#roomconfig_membersonly': '1', 'muc#roomconfig_moderatedroom': '1', 'muc#roomconfig_publicroom': '1'})
    report.check('alice: submits the configuration (XEP-0045 §10.1.3)', kind == 'result', kind)
    # XEP-0045 §6.3: the service's disco#items lists public rooms (this one was just made public).
    kind, iq = await send_iq(report, carol, cfg['muc'], 'get', el(NS_DISCO_ITEMS, 'query'))
    jids = {i.get('jid') for i in iq.xml.iter(q(NS_DISCO_ITEMS, 'item'))} if kind == 'result' else set()
    report.check('carol: the service lists the public room in disco#items (XEP-0045 §6.3)', room in jids,
                 '%s %s' % (kind, sorted(jids)))
    kind, feats, _, _ = await disco_info(report, carol, room)
    report.check('carol: disco#info shows muc_persistent, muc_membersonly, muc_moderated and not their opposites '
                 '(XEP-0045 §6.4)',
                 kind == 'result' and {'muc_persistent', 'muc_membersonly', 'muc_moderated'} <= feats
                 and not {'muc_temporary', 'muc_open', 'muc_unmoderated'} & feats, '%s %s' % (kind, sorted(feats)))
    # §7.8.2: a mediated invitation reaches the invitee from the room's bare JID, naming the inviter.
    alice.plugin['xep_0045'].invite(JID(room), JID(c_jid), 'come in')
    inv = await carol.wait_for(lambda s: s.name == 'message' and str(s['from']) == room
                               and s.xml.find('{%s}x/{%s}invite' % (NS_MUC_USER, NS_MUC_USER)) is not None)
    node = inv.xml.find('{%s}x/{%s}invite' % (NS_MUC_USER, NS_MUC_USER)) if inv is not None else None
    # §7.8.2: the room adds 'from' with the bare, full or occupant JID of the inviter.
    report.check('carol: receives the invitation from the room, from alice (XEP-0045 §7.8.2)',
                 node is not None and (JID(node.get('from') or '').bare == a_jid or node.get('from') == room + '/Alice'),
                 str(inv) if inv is not None else 'nothing')
    # §7.2.6: a non-member cannot enter a members-only room. (Prosody and others may make an invitee a
    # member (§7.8.2 MAY); carol's membership is therefore revoked first, to keep the check meaningful.)
    await admin_set(report, alice, room, {'jid': c_jid, 'affiliation': 'none'})
    kind, _ = await join_room(carol, room, 'Carol')
    report.check('carol: members-only room rejects a non-member: registration-required (XEP-0045 §7.2.6)',
                 kind == 'error:registration-required', kind)
    kind, _ = await admin_set(report, alice, room, {'jid': b_jid, 'affiliation': 'member'})
    report.check('alice: makes bob a member (XEP-0045 §9.3)', kind == 'result', kind)
    kind, pres = await join_room(bob, room, 'Bob')
    item = muc_item(pres) if pres is not None else {}
    report.check('bob: a member joins the members-only room as member/participant (XEP-0045 §5.1.2)',
                 kind == 'joined' and item.get('affiliation') == 'member' and item.get('role') == 'participant',
                 '%s %s' % (kind, item))

    # §10.9: destroy with an alternate venue: every occupant gets unavailable with <destroy jid=alt>.
    destroy = el(NS_MUC_OWNER, 'destroy', {'jid': alt}, children=[el(NS_MUC_OWNER, 'reason', text='moving')])
    kind, _ = await send_iq(report, alice, room, 'set', el(NS_MUC_OWNER, 'query', children=[destroy]))
    report.check('alice: destroys the room (XEP-0045 §10.9)', kind == 'result', kind)
    for name, client in (('alice', alice), ('bob', bob)):
        got = await client.wait_for(lambda s: occupant_presence(room, None, ('unavailable',))(s)
                                    and s.xml.find('{%s}x/{%s}destroy' % (NS_MUC_USER, NS_MUC_USER)) is not None)
        d = got.xml.find('{%s}x/{%s}destroy' % (NS_MUC_USER, NS_MUC_USER)) if got is not None else None
        reason = d.find(q(NS_MUC_USER, 'reason')) if d is not None else None
        report.check('%s: unavailable with destroy jid=alternate and the reason (XEP-0045 §10.9)' % name,
                     d is not None and d.get('jid') == alt and reason is not None and reason.text == 'moving',
                     str(got) if got is not None else 'nothing')


async def scenario(cfg, report):
    room, reserved = cfg['rooms']['open'], cfg['rooms']['reserved']
    a_jid, b_jid, c_jid = bare(cfg, 'alice'), bare(cfg, 'bob'), bare(cfg, 'carol')
    clients = {}
    for name, res in (('alice', 'desk'), ('bob', 'phone'), ('carol', 'tablet')):
        c = Client(cfg, report, name, res)
        c.register_plugin('xep_0045')
        ok, detail = await c.login()
        report.check(name + ': login', ok, detail)
        # Available presence, so messages to the bare JID (a mediated invitation, §7.8.2) reach this session.
        await c.go_online(name)
        clients[name] = c
    alice, bob, carol = clients['alice'], clients['bob'], clients['carol']
    kind, feats, idents, _ = await disco_info(report, alice, cfg['muc'])
    report.check('the MUC service has identity conference/text and feature muc (XEP-0045 §6.1)',
                 kind == 'result' and ('conference', 'text') in idents and 'http://jabber.org/protocol/muc' in feats,
                 '%s %s %s' % (kind, idents, sorted(feats)))

    # The open room's disco#info features decide which optional checks run.
    feats = await open_room_checks(cfg, report, alice, bob, carol, room, a_jid, b_jid, c_jid)
    await moderation_checks(cfg, report, alice, bob, carol, room, feats, a_jid, b_jid, c_jid)
    await reserved_room_checks(cfg, report, alice, bob, carol, reserved, room, a_jid, b_jid, c_jid)

    # §7.14: the owner leaves the open room last.
    new_a = unseen(alice)
    alice.send_presence(pto=JID(room + '/Alice'), ptype='unavailable')
    left = await alice.wait_for(new_a(self_presence(room, ('unavailable',))))
    report.check('alice: leaves the open room, unavailable with 110 (XEP-0045 §7.14)', left is not None)
    for c in (alice, bob, carol):
        await c.logout()


run(scenario)
