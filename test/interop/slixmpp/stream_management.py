"""Scenario: XEP-0198 stream management with slixmpp's own xep_0198 plugin.

alice enables SM with resumption (XEP-0198 §3, §5), receives chat messages from bob, then loses her TCP
connection abruptly (an RST, no </stream:stream>, no TLS close_notify) while bob keeps writing. slixmpp
reconnects and sends <resume previd h/> with its own handled count; the server answers <resumed/> and
retransmits what alice had not acknowledged (§5). Every message must arrive exactly once and in order.
Some of bob's messages are written to alice's socket but never read (lost in flight), the rest arrive
while her session is detached. The drop and resumption happen twice: back through STARTTLS on the c2s
port with bob writing to her full JID, then through direct TLS (XEP-0368) with bob writing to her bare JID.

Users: alice, bob (the tap test picks them on different shards).
"""
import asyncio
import socket
import struct

from common import Client, run

ROUNDS = (
    # (label, messages lost in flight by the drop, messages sent while alice is away, messages sent after
    #  the resumption, direct TLS?, bob writes to alice's full or bare JID). In flight + away = the
    #  messages bob sends "during the drop". To the bare JID, a detached session still counts as an
    #  available resource (RFC 6121 §8.5.2.1.1), so those messages must not go to offline storage.
    ('STARTTLS', 3, 7, 5, False, 'full'),
    ('direct TLS', 2, 3, 5, True, 'bare'),
)
# In-flight counts stay below the server's ack-request interval (5), and alice reads nothing meanwhile:
# those messages are written to her socket but never acknowledged, so only resumption recovers them.
FIRST_BATCH = 10
SETTLE = 0.3  # lets bob's messages reach alice's socket or detached session before the next step


class Events:
    """Every occurrence of some slixmpp events, in order, with a bounded wait for the next one."""

    def __init__(self, client, names):
        self.log = []
        self._waiters = []
        for name in names:
            client.add_event_handler(name, lambda ev, name=name: self._fire(name, ev))

    def _fire(self, name, ev):
        self.log.append((name, ev))
        for waiter in list(self._waiters):
            names, fut = waiter
            if name in names and not fut.done():
                fut.set_result((name, ev))
                self._waiters.remove(waiter)

    def count(self, name):
        return sum(1 for n, _ in self.log if n == name)

    def first(self, name):
        return next((ev for n, ev in self.log if n == name), None)

    def arm(self, *names):
        """A future for the next of `names` to fire from now on; arm it before causing the event."""
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((names, fut))
        return fut


async def outcome(fut, timeout):
    try:
        return await asyncio.wait_for(fut, timeout)
    except asyncio.TimeoutError:
        return ('timeout', None)


def kill_tcp(client):
    """Drops the connection the way a dead network does: SO_LINGER 0 makes close() send an RST, and the
    asyncio transport's abort() sends nothing first (XMLStream.abort() would call close(), which starts
    a TLS shutdown)."""
    sock = client.transport.get_extra_info('socket')
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    client.transport.abort()


def bodies_from(client, jid):
    return [str(m['body']) for m in client.messages(lambda m: m['from'].bare == jid and m['body'])]


async def until(pred, timeout):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def scenario(cfg, report):
    b_jid = cfg['users']['bob']['jid']
    alice, bob = Client(cfg, report, 'alice', 'phone'), Client(cfg, report, 'bob', 'laptop')
    alice.register_plugin('xep_0198')
    sm = alice['xep_0198']
    events = Events(alice, ('session_start', 'sm_enabled', 'session_resumed', 'sm_failed', 'session_end',
                            'disconnected'))
    enabled = events.arm('sm_enabled', 'sm_failed')

    ok, detail = await alice.login()
    report.check('alice: login over STARTTLS', ok, detail)
    kind, stanza = await outcome(enabled, report.timeout())
    report.check("alice: <enable resume='true'/> answered with <enabled/> (XEP-0198 §3)", kind == 'sm_enabled',
                 stanza if stanza is not None else kind)
    report.check('alice: <enabled/> grants resumption with an id and a max (XEP-0198 §5)',
                 kind == 'sm_enabled' and stanza['resume'] and bool(stanza['id']) and bool(stanza['max']),
                 stanza if stanza is not None else kind)
    ok, detail = await bob.login()
    report.check('bob: login', ok, detail)
    # Both available, so a chat message to a bare JID reaches the resource (RFC 6121 §8.5.2.1.1), not storage.
    await alice.go_online('alice')
    await bob.go_online('bob')
    full = str(alice.boundjid)

    sent = 0

    def bob_sends(count, to=full):
        nonlocal sent
        for _ in range(count):
            sent += 1
            bob.chat(to, 'sm-%d' % sent)

    def received():
        return [b for b in bodies_from(alice, b_jid) if b.startswith('sm-')]

    def expected():
        return ['sm-%d' % n for n in range(1, sent + 1)]

    bob_sends(FIRST_BATCH)
    got = await until(lambda: len(received()) >= FIRST_BATCH, report.timeout())
    report.check('alice: receives the first %d messages in order' % FIRST_BATCH,
                 got and received() == expected(), received())

    for label, inflight, away, after, direct_tls, address in ROUNDS:
        to = full if address == 'full' else cfg['users']['alice']['jid']
        if not alice.is_connected():
            report.check('%s: alice is connected before the drop' % label, False, 'not connected')
            break
        # Messages in flight when the network dies: the server writes them, alice never reads them (the
        # RST below discards what sits unread in her socket), so she never counts or acknowledges them.
        alice.transport.pause_reading()
        seen = len(received())
        bob_sends(inflight, to)
        barrier = await bob.barrier(cfg['domain'])
        await asyncio.sleep(SETTLE)
        report.check('%s: %d messages are in flight, unread, when the connection dies' % (label, inflight),
                     barrier == 'result' and len(received()) == seen, '%s, received %d' % (barrier, len(received())))
        dropped = events.arm('disconnected')
        kill_tcp(alice)
        kind, _ = await outcome(dropped, report.timeout())
        report.check('%s: the abrupt drop leaves SM state for resumption (no session_end)' % label,
                     kind == 'disconnected' and events.count('session_end') == 0 and bool(sm.sm_id),
                     '%s, session_end x%d, sm_id %r' % (kind, events.count('session_end'), sm.sm_id))

        # While alice is away her session is detached: the server must keep what bob sends (§5).
        bob_sends(away, to)
        barrier = await bob.barrier(cfg['domain'])
        await asyncio.sleep(SETTLE)
        report.check('%s: bob keeps sending to the %s JID while alice is away, with no error bounced'
                     % (label, address),
                     barrier == 'result' and not bob.messages(lambda m: m['type'] == 'error'), barrier)

        settled = events.arm('session_resumed', 'sm_failed', 'session_start')
        port = cfg['tlsPort'] if direct_tls else cfg['c2sPort']
        alice.connect(address=(cfg['host'], port), use_ssl=direct_tls, force_starttls=not direct_tls)
        kind, ev = await outcome(settled, report.timeout())
        if kind != 'session_resumed':
            alice.cancel_connection_attempt()
        report.check('%s: slixmpp resumes the session: <resume/> answered with <resumed/> (XEP-0198 §5)' % label,
                     kind == 'session_resumed', '%s %s' % (kind, ev if ev is not None else ''))
        report.check('%s: a resumption, not a new session (no second session_start, same full JID)' % label,
                     events.count('session_start') == 1 and str(alice.boundjid) == full,
                     'session_start x%d, bound %s (was %s)' % (events.count('session_start'), alice.boundjid, full))
        if kind != 'session_resumed':
            break
        got = await until(lambda: len(received()) >= sent, report.timeout())
        report.check('%s: what was lost in flight or sent while alice was away arrives after the resumption'
                     % label, got and len(received()) - seen == inflight + away, received()[seen:])

        bob_sends(after, to)
        got = await until(lambda: len(received()) >= sent, report.timeout())
        # Extra copies would arrive right behind the expected ones, so look for them a moment longer.
        await asyncio.sleep(0.2)
        report.check('%s: all %d messages so far arrived exactly once and in order' % (label, sent),
                     got and received() == expected(), received())

        # The resumed session sends too, and the server's h counts every stanza alice sent (XEP-0198 §4).
        alice.chat(b_jid, 'back-' + label)
        back = await bob.wait_for(lambda s: s.name == 'message' and s['body'] == 'back-' + label)
        report.check('%s: the resumed session sends (bob receives alice\'s reply)' % label, back is not None)
        sm.request_ack()
        acked = await until(lambda: sm.last_ack == sm.seq and not sm.unacked_queue, report.timeout())
        report.check("%s: the server's <a h/> acknowledges every stanza alice sent (h == slixmpp's seq)" % label,
                     acked, 'last_ack %s, seq %s, unacked %d' % (sm.last_ack, sm.seq, len(sm.unacked_queue)))

    report.check('no <failed/> from the server at any point', events.count('sm_failed') == 0,
                 [str(ev) for n, ev in events.log if n == 'sm_failed'])
    for client in (alice, bob):
        await client.logout()


if __name__ == '__main__':
    run(scenario)
