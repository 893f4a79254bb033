"""Scenario 5: malformed XML on other connections ends only those streams. A raw plain socket sends broken
XML before authenticating, and a second slixmpp resource of alice sends broken XML after binding; each
gets <not-well-formed/> and is closed (RFC 6120 §4.9.1.1, §4.9.3.13), while alice's and bob's sessions
keep exchanging messages.

Users: alice, bob (on different shards).
"""
import asyncio

from common import QUIET_PERIOD, STEP_TIMEOUT, Client, bare, run

STREAM_HEADER = ("<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' xml:lang='en' "
                 "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
MALFORMED = "<message to='{to}' type='chat'><body>broken</message>"  # </body> missing: not well-formed


async def read_until_closed(reader, timeout):
    """Everything the server sends until it closes the TCP connection; (data, closed)."""
    data = b''
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(4096), timeout)
            if not chunk:
                return data.decode('utf-8', 'replace'), True
            data += chunk
    except asyncio.TimeoutError:
        return data.decode('utf-8', 'replace'), False


async def raw_malformed(cfg, report, to):
    reader, writer = await asyncio.open_connection(cfg['host'], cfg['c2sPort'])
    writer.write(STREAM_HEADER.format(domain=cfg['domain']).encode())
    await writer.drain()
    opened = b''
    try:
        while b'</stream:features>' not in opened:
            chunk = await asyncio.wait_for(reader.read(4096), STEP_TIMEOUT)
            if not chunk:
                break
            opened += chunk
    except asyncio.TimeoutError:
        pass
    report.check('raw socket: server opens the stream with features', b'</stream:features>' in opened,
                 opened[-200:].decode('utf-8', 'replace'))
    writer.write(MALFORMED.format(to=to).encode())
    await writer.drain()
    data, closed = await read_until_closed(reader, STEP_TIMEOUT)
    report.check('raw socket: <not-well-formed/> stream error (RFC 6120 §4.9.3.13)',
                 '<stream:error' in data and 'not-well-formed' in data and 'urn:ietf:params:xml:ns:xmpp-streams' in data,
                 data[-300:])
    report.check('raw socket: server closes the stream and the connection (RFC 6120 §4.9.1.1)',
                 closed and '</stream:stream>' in data, 'closed' if closed else 'still open after %ss' % STEP_TIMEOUT)
    writer.close()


async def exchange(report, alice, bob, tag):
    alice.chat(bare(alice.cfg, 'bob'), 'a-' + tag)
    bob.chat(bare(bob.cfg, 'alice'), 'b-' + tag)
    to_bob = await bob.wait_for(lambda s: s.name == 'message' and s['body'] == 'a-' + tag)
    to_alice = await alice.wait_for(lambda s: s.name == 'message' and s['body'] == 'b-' + tag)
    report.check('messages flow both ways ' + tag, to_bob is not None and to_alice is not None,
                 'bob got %s, alice got %s' % (to_bob is not None, to_alice is not None))


async def scenario(cfg, report):
    alice, bob = Client(cfg, report, 'alice', 'main'), Client(cfg, report, 'bob', 'main')
    for name, client in (('alice', alice), ('bob', bob)):
        ok, detail = await client.login()
        report.check(name + ': login', ok, detail)
        await client.go_online(name)
    await exchange(report, alice, bob, 'before any stream error')

    await raw_malformed(cfg, report, bare(cfg, 'alice'))
    await exchange(report, alice, bob, 'after the raw stream error')

    # An authenticated stream of the same account breaks: only that resource goes.
    breaker = Client(cfg, report, 'alice', 'breaker')
    ok, detail = await breaker.login()
    report.check('alice/breaker: login', ok, detail)
    closed = asyncio.get_running_loop().create_future()
    breaker.add_event_handler('disconnected', lambda _e: closed.done() or closed.set_result(True))
    breaker.send_raw(MALFORMED.format(to=bare(cfg, 'bob')))
    try:
        await asyncio.wait_for(closed, STEP_TIMEOUT)
    except asyncio.TimeoutError:
        breaker.abort()
    conditions = [str(e['condition']) for e in breaker.stream_errors]
    report.check('alice/breaker: slixmpp sees a not-well-formed stream error', 'not-well-formed' in conditions, conditions)
    report.check('alice/breaker: the server closes the connection', closed.done())
    await exchange(report, alice, bob, 'after the authenticated stream error')
    await asyncio.sleep(QUIET_PERIOD)
    stray = [str(m) for m in alice.messages(lambda m: m['body'] == 'broken')] + \
            [str(m) for m in bob.messages(lambda m: m['body'] == 'broken')]
    report.check('the broken stanza was delivered to nobody', not stray, stray)
    report.check('alice and bob got no stream errors', not alice.stream_errors and not bob.stream_errors,
                 [str(e) for e in alice.stream_errors + bob.stream_errors])
    await alice.logout()
    await bob.logout()


run(scenario)
