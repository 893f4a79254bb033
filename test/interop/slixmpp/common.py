"""Shared helpers for the slixmpp interop scripts.

Each script is run by test/interop/slixmpp.test.ts as
    /usr/bin/python3 <script>.py '<json config>'
with the config {host, c2sPort, tlsPort, ca, domain, users: {name: {jid, password}}}. It prints one JSON
line per check, {"check", "ok", "detail"}, and exits non-zero when any check failed, so the tap test can
assert every check by name. Every wait is bounded, and the whole script runs under a deadline, so a
missing server feature shows up as failed checks, never as a hang.
"""
import asyncio
import json
import logging
import sys
import traceback
from pathlib import Path

from slixmpp import JID, ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

STEP_TIMEOUT = 5.0  # one expected stanza; a local server answers in milliseconds
DEGRADED_TIMEOUT = 1.0  # after a first timeout: later steps mostly depend on it, so fail them fast
QUIET_PERIOD = 0.5  # how long "nothing arrives" is observed before it is believed
SCRIPT_DEADLINE = 45.0


class Report:
    def __init__(self):
        self.failures = 0
        self.timed_out = False

    def timeout(self):
        """The wait for one expected stanza: short once something has already timed out, so a missing
        server feature costs one full timeout, not one per dependent check."""
        return DEGRADED_TIMEOUT if self.timed_out else STEP_TIMEOUT

    def check(self, name, ok, detail=''):
        print(json.dumps({'check': name, 'ok': bool(ok), 'detail': str(detail)[:800]}), flush=True)
        if not ok:
            self.failures += 1
        return bool(ok)


class Client(ClientXMPP):
    """A slixmpp client that keeps every message, presence, roster push and stream error it receives,
    so a script can wait for one by predicate (including one that arrived before it started waiting)."""

    def __init__(self, cfg, report, user, resource=None, mech=None):
        self.forced_mech = mech
        jid = cfg['users'][user]['jid'] + (('/' + resource) if resource else '')
        plugin_config = {'feature_mechanisms': {'use_mech': mech}} if mech else {}
        super().__init__(jid, cfg['users'][user]['password'], plugin_config=plugin_config)
        self.cfg = cfg
        self.report = report
        # The server's self-signed certificate is its own CA: verification and the hostname check
        # ('localhost', the JID's domain, which slixmpp sends as SNI) stay on.
        self.ca_certs = Path(cfg['ca'])
        # Subscription requests are answered by the script, never automatically (RFC 6121 §3.1.3 leaves
        # the decision to the contact), so the handshake under test is the one the script performs.
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        for plugin in ('xep_0030', 'xep_0191', 'xep_0199', 'xep_0203'):
            self.register_plugin(plugin)
        self.received = []
        self._waiters = []
        self.stream_errors = []
        for name, path in (
            ('message', '{jabber:client}message'),
            ('presence', '{jabber:client}presence'),
            ('roster-push', '{jabber:client}iq/{jabber:iq:roster}query'),
        ):
            self.register_handler(Callback('record ' + name, MatchXPath(path), self._record))
        self.add_event_handler('stream_error', self._on_stream_error)

    def _record(self, stanza):
        if stanza.name == 'iq' and stanza['type'] != 'set':
            return
        self.received.append(stanza)
        for waiter in list(self._waiters):
            pred, fut = waiter
            if not fut.done() and pred(stanza):
                fut.set_result(stanza)
                self._waiters.remove(waiter)

    def _on_stream_error(self, err):
        self.stream_errors.append(err)

    async def wait_for(self, pred, timeout=None):
        """The first received stanza matching pred (already received or arriving within timeout), or None."""
        for stanza in self.received:
            if pred(stanza):
                return stanza
        fut = asyncio.get_running_loop().create_future()
        waiter = (pred, fut)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(fut, timeout if timeout is not None else self.report.timeout())
        except asyncio.TimeoutError:
            if timeout is None:
                self.report.timed_out = True
            return None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def messages(self, pred=lambda m: True):
        return [s for s in self.received if s.name == 'message' and pred(s)]

    async def login(self, direct_tls=False, timeout=STEP_TIMEOUT):
        """Connects (STARTTLS on the c2s port, or XEP-0368 direct TLS) and waits for the bound session.
        Returns (ok, detail)."""
        loop = asyncio.get_running_loop()
        outcome = loop.create_future()

        def settle(kind):
            def handler(event=None):
                if not outcome.done():
                    outcome.set_result((kind, event))
            return handler

        # Without a forced mechanism, slixmpp moves on to the next mechanism after a <failure/> (it picks
        # SCRAM-*-PLUS first, but knows only tls-unique, which TLS 1.3 does not define): only the end of
        # all attempts is final then.
        final = ['session_start', 'failed_all_auth', 'connection_failed', 'ssl_invalid_chain', 'stream_error',
                 'disconnected', 'session_bind_failed'] + (['failed_auth'] if self.forced_mech else [])
        for event in final:
            self.add_event_handler(event, settle(event), disposable=True)
        # How far negotiation got, for the detail of a timeout.
        stages = []
        for stage in ('connected', 'tls_success', 'auth_success', 'session_bind'):
            self.add_event_handler(stage, lambda _e, stage=stage: stages.append(stage), disposable=True)
        port = self.cfg['tlsPort'] if direct_tls else self.cfg['c2sPort']
        self.connect(address=(self.cfg['host'], port), use_ssl=direct_tls, force_starttls=not direct_tls)
        try:
            kind, event = await asyncio.wait_for(outcome, timeout)
        except asyncio.TimeoutError:
            kind, event = 'timeout', None
        if kind == 'session_start':
            return True, 'bound ' + str(self.boundjid)
        # slixmpp retries failed connections forever; stop that and drop the socket.
        self.cancel_connection_attempt()
        self.abort()
        detail = '%s after [%s]' % (kind, ', '.join(stages))
        if kind == 'failed_auth' and event is not None:
            detail += ': ' + str(event['condition'])
        elif event is not None:
            detail += ': ' + str(event)
        return False, detail

    async def go_online(self, label):
        """Initial presence, then the server's echo of it to this resource (RFC 6121 §4.2.2: the server
        MUST broadcast initial presence to all of the user's available resources, including this one)."""
        self.send_presence()
        me = str(self.boundjid)
        echo = await self.wait_for(lambda s: s.name == 'presence' and str(s['from']) == me
                                   and s['type'] in ('available', 'chat', 'away', 'xa', 'dnd'))
        self.report.check(label + ': own initial presence echoed back (RFC 6121 §4.2.2)', echo is not None,
                          'from ' + me if echo is not None else 'no echo')

    def chat(self, to, body):
        self.send_message(mto=JID(to), mbody=body, mtype='chat')

    async def barrier(self, to):
        """A ping round trip to `to`: stanzas this client sent earlier have been processed by the time any
        reply (result or error) comes back. Returns the reply type, or 'timeout'."""
        iq = self.make_iq_get(ito=JID(to))
        iq.enable('ping')  # <ping xmlns='urn:xmpp:ping'/>, the xep_0199 stanza plugin
        try:
            reply = await iq.send(timeout=self.report.timeout())
            return reply['type']
        except IqError as e:
            return 'error:' + str(e.iq['error']['condition'])
        except IqTimeout:
            return 'timeout'

    async def logout(self, timeout=3.0):
        """Closes the stream (</stream:stream>) and waits for the server to close its side."""
        if self.transport is None:
            return
        try:
            await asyncio.wait_for(self.disconnect(wait=timeout), timeout + 1)
        except (asyncio.TimeoutError, Exception):
            self.abort()


def presence_from(jid, types=('available',)):
    return lambda s: s.name == 'presence' and str(s['from']) == str(jid) and s['type'] in types


def bare(cfg, user):
    return cfg['users'][user]['jid']


async def iq_outcome(report, awaitable):
    """('result', iq) or ('error:<condition>', iq) or ('timeout', None) for an iq send."""
    try:
        iq = await asyncio.wait_for(awaitable, report.timeout())
        return iq['type'], iq
    except IqError as e:
        return 'error:' + str(e.iq['error']['condition']), e.iq
    except (IqTimeout, asyncio.TimeoutError):
        report.timed_out = True
        return 'timeout', None


def run(scenario):
    """Runs `async scenario(cfg, report)` under the script deadline and exits with the verdict."""
    logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)
    cfg = json.loads(sys.argv[1])
    report = Report()

    async def main():
        try:
            await asyncio.wait_for(scenario(cfg, report), SCRIPT_DEADLINE)
        except asyncio.TimeoutError:
            report.check('script finished within %ss' % SCRIPT_DEADLINE, False, 'deadline hit')
        except Exception:
            report.check('script raised no exception', False, traceback.format_exc())

    asyncio.run(main())
    sys.exit(1 if report.failures else 0)


__all__ = ['Client', 'Report', 'run', 'presence_from', 'bare', 'iq_outcome', 'STEP_TIMEOUT', 'QUIET_PERIOD', 'JID']
