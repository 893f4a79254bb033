"""Scenario 4: XEP-0191 blocking through slixmpp's xep_0191 plugin. Alice blocks bob: bob's message to
alice bounces with an error and alice gets nothing; alice cannot message bob either; unblocking restores
delivery.

Users: alice, bob (on different shards).
"""
import asyncio

from common import QUIET_PERIOD, JID, Client, bare, iq_outcome, run

BLOCKING_ERRORS = '{urn:xmpp:blocking:errors}blocked'


def body_is(body):
    return lambda s: s.name == 'message' and s['body'] == body and s['type'] != 'error'


def error_for(body):
    return lambda s: s.name == 'message' and s['type'] == 'error' and (s['body'] == body or not s['body'])


async def blocklist(report, client):
    kind, iq = await iq_outcome(report, client['xep_0191'].get_blocked())
    if kind != 'result':
        return kind
    return sorted(str(j) for j in iq['blocklist']['items'])


async def scenario(cfg, report):
    a_jid, b_jid = bare(cfg, 'alice'), bare(cfg, 'bob')
    alice, bob = Client(cfg, report, 'alice', 'one'), Client(cfg, report, 'bob', 'two')
    for name, client in (('alice', alice), ('bob', bob)):
        ok, detail = await client.login()
        report.check(name + ': login', ok, detail)
        await client.go_online(name)

    info_kind, info = await iq_outcome(report, alice['xep_0030'].get_info(jid=cfg['domain']))
    features = info['disco_info']['features'] if info_kind == 'result' else []
    report.check("server advertises 'urn:xmpp:blocking' (XEP-0191 §3.1)", 'urn:xmpp:blocking' in features,
                 sorted(features) if info_kind == 'result' else info_kind)

    bob.chat(a_jid, 'before-block')
    got = await alice.wait_for(body_is('before-block'))
    report.check('alice: receives bob\'s message before blocking', got is not None)

    kind, _ = await iq_outcome(report, alice['xep_0191'].block(JID(b_jid)))
    report.check('alice: block bob returns result (XEP-0191 §3.3)', kind == 'result', kind)
    listed = await blocklist(report, alice)
    report.check('alice: block list is [bob] (XEP-0191 §3.2)', listed == [b_jid], listed)

    # XEP-0191 §3.3: the server MUST NOT deliver the contact's stanzas to the user; for a message it SHOULD
    # return an error, which SHOULD be <service-unavailable/>.
    bob.chat(a_jid, 'while-blocked')
    bounce = await bob.wait_for(error_for('while-blocked'))
    report.check("bob: his message to alice comes back as an error", bounce is not None,
                 str(bounce) if bounce is not None else 'no error')
    condition = str(bounce['error']['condition']) if bounce is not None else None
    report.check('bob: the error is service-unavailable (XEP-0191 §3.3 SHOULD)', condition == 'service-unavailable',
                 condition)
    report.check('bob: the error comes from alice\'s bare JID', bounce is not None and bounce['from'].bare == a_jid,
                 str(bounce['from']) if bounce is not None else '')
    await asyncio.sleep(QUIET_PERIOD)
    report.check('alice: receives nothing from bob while he is blocked',
                 not alice.messages(lambda m: m['body'] == 'while-blocked'), 'checked after %ss' % QUIET_PERIOD)

    # XEP-0191 §3.3: a stanza the user sends to a blocked JID MUST NOT be routed; the server answers
    # <not-acceptable/> with <blocked xmlns='urn:xmpp:blocking:errors'/>.
    alice.chat(b_jid, 'to-blocked')
    own = await alice.wait_for(error_for('to-blocked'))
    condition = str(own['error']['condition']) if own is not None else None
    has_app = own is not None and own.xml.find('{jabber:client}error/' + BLOCKING_ERRORS) is not None
    report.check('alice: her message to blocked bob is refused with not-acceptable + <blocked/> (XEP-0191 §3.3)',
                 condition == 'not-acceptable' and has_app, str(own) if own is not None else 'no error')
    await asyncio.sleep(QUIET_PERIOD)
    report.check('bob: receives nothing from alice while she blocks him',
                 not bob.messages(lambda m: m['body'] == 'to-blocked'))

    kind, _ = await iq_outcome(report, alice['xep_0191'].unblock(JID(b_jid)))
    report.check('alice: unblock bob returns result (XEP-0191 §3.4)', kind == 'result', kind)
    listed = await blocklist(report, alice)
    report.check('alice: block list is empty after unblocking', listed == [], listed)

    bob.chat(a_jid, 'after-unblock')
    got = await alice.wait_for(body_is('after-unblock'))
    report.check('alice: receives bob\'s message after unblocking', got is not None)
    alice.chat(b_jid, 'reply-after-unblock')
    got = await bob.wait_for(body_is('reply-after-unblock'))
    report.check('bob: receives alice\'s message after unblocking', got is not None)
    report.check('alice: the blocked message was never delivered later',
                 not alice.messages(lambda m: m['body'] == 'while-blocked'))
    await alice.logout()
    await bob.logout()


run(scenario)
