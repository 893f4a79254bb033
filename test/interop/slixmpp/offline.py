"""Scenario 3: a message to an offline user is stored and delivered at the next login, marked with a
XEP-0203 delay element (XEP-0160), and only once.

Users: alice (sender, online), bob (recipient, offline).
"""
import asyncio
from datetime import datetime, timedelta, timezone

from common import QUIET_PERIOD, Client, bare, run

BODIES = ['offline-1', 'offline-2']


async def scenario(cfg, report):
    b_jid = bare(cfg, 'bob')
    alice = Client(cfg, report, 'alice', 'desk')
    ok, detail = await alice.login()
    report.check('alice: login', ok, detail)
    await alice.go_online('alice')

    sent_at = datetime.now(timezone.utc)
    for body in BODIES:
        alice.chat(b_jid, body)
    # A round trip to bob's bare JID: the server has handled both messages when the reply comes back.
    reply = await alice.barrier(b_jid)
    report.check("alice: the server answers an iq to an offline user's bare JID", reply != 'timeout', reply)
    await asyncio.sleep(QUIET_PERIOD)
    errors = alice.messages(lambda m: m['type'] == 'error')
    # XEP-0160 §3: storing is the server's job; the sender gets no error for an offline recipient.
    report.check('alice: no error for messages to an offline user (XEP-0160)', not errors,
                 [str(e['error']['condition']) for e in errors])

    bob = Client(cfg, report, 'bob', 'home')
    ok, detail = await bob.login()
    report.check('bob: login', ok, detail)
    # XEP-0160 §4: stored messages are delivered when the user sends initial presence with priority >= 0.
    bob.send_presence()
    await bob.wait_for(lambda s: s.name == 'message' and s['body'] == BODIES[-1])
    got = bob.messages(lambda m: m['body'] in BODIES)
    report.check('bob: both offline messages delivered at login, in order', [m['body'] for m in got] == BODIES,
                 [m['body'] for m in got])
    report.check("bob: offline messages keep alice's full JID as sender and type chat",
                 bool(got) and all(str(m['from']) == str(alice.boundjid) and m['type'] == 'chat' for m in got),
                 [(str(m['from']), m['type']) for m in got])
    stamps = []
    for m in got:
        delay = m.xml.find('{urn:xmpp:delay}delay')
        stamps.append(None if delay is None else (delay.get('stamp'), delay.get('from')))
    report.check('bob: every offline message carries <delay xmlns="urn:xmpp:delay"/> (XEP-0203, XEP-0160 §4)',
                 bool(got) and all(s is not None and s[0] for s in stamps), stamps)
    in_window = True
    for m in got:
        stamp = m['delay']['stamp'] if m.xml.find('{urn:xmpp:delay}delay') is not None else None
        if stamp is None or stamp.tzinfo is None:
            in_window = False
        elif not (sent_at - timedelta(seconds=2) <= stamp <= datetime.now(timezone.utc) + timedelta(seconds=2)):
            in_window = False
    # XEP-0203 §3: the stamp is the UTC time the server received the stanza (XEP-0082 format).
    report.check('bob: delay stamps are UTC and at the time alice sent', bool(got) and in_window, stamps)
    report.check("bob: delay 'from' is the server's domain (XEP-0203 §3 SHOULD)",
                 bool(got) and all(s is not None and s[1] == cfg['domain'] for s in stamps), stamps)
    await bob.logout()
    await alice.logout()

    # XEP-0160 §4: once delivered, messages are removed from storage: a second login gets none.
    bob = Client(cfg, report, 'bob', 'again')
    ok, detail = await bob.login()
    report.check('bob: logs in a second time', ok, detail)
    bob.send_presence()
    await bob.wait_for(lambda s: s.name == 'presence' and str(s['from']) == str(bob.boundjid))
    await asyncio.sleep(QUIET_PERIOD)
    again = bob.messages(lambda m: m['body'] in BODIES)
    report.check('bob: offline messages are not delivered a second time', not again, [m['body'] for m in again])
    await bob.logout()


run(scenario)
