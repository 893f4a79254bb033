"""Scenario 1: SCRAM login with slixmpp over STARTTLS (c2s port) and direct TLS (XEP-0368 port).

Users: alice.
"""
import ssl

from common import Client, run


def tls_detail(client):
    """(ok, detail): the stream runs over TLS and the peer certificate was verified with the hostname check
    on. getpeercert() returns the parsed certificate only when it was validated (it is {} under CERT_NONE)."""
    sock = client.socket
    if not isinstance(sock, (ssl.SSLObject, ssl.SSLSocket)):
        return False, 'socket is %s' % type(sock).__name__
    ctx = client.ssl_context
    cert = sock.getpeercert() or {}
    verified = ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname and bool(cert)
    return verified, '%s %s, verify_mode=%s check_hostname=%s, SAN %s' % (
        sock.version(), (sock.cipher() or ('',))[0], ctx.verify_mode.name, ctx.check_hostname,
        cert.get('subjectAltName'))


async def login_case(cfg, report, label, direct_tls, mech, expect):
    client = Client(cfg, report, 'alice', resource=label, mech=mech)
    ok, detail = await client.login(direct_tls=direct_tls)
    report.check(label + ': login succeeds', ok, detail)
    encrypted, tls_info = tls_detail(client) if ok else (False, 'not logged in')
    # The certificate was verified against the server's own cert with hostname 'localhost' (ca_certs,
    # CERT_REQUIRED): reaching a session at all proves the chain and name checks passed.
    report.check(label + ': stream is TLS with a verified certificate', encrypted, tls_info)
    mech = client['feature_mechanisms'].mech if ok else None
    used = mech.name if mech else None
    # gs2 header 'y,,' = the client could bind to the channel but the server offered no -PLUS (RFC 5802 §6).
    report.check(label + ': SASL mechanism is ' + expect, used == expect,
                 'used %s (gs2 header %r); offered %s' % (used, getattr(mech, 'gs2_header', None),
                                                         sorted(client['feature_mechanisms'].mech_list)))
    report.check(label + ': bound JID is the account with a resource',
                 ok and client.boundjid.bare == cfg['users']['alice']['jid'] and bool(client.boundjid.resource),
                 str(client.boundjid))
    if ok:
        pong = await client.barrier(cfg['domain'])
        report.check(label + ': session answers a ping to the server (XEP-0199)', pong == 'result', pong)
    await client.logout()
    return client


async def scenario(cfg, report):
    starttls = await login_case(cfg, report, 'starttls+scram-sha-256', False, 'SCRAM-SHA-256', 'SCRAM-SHA-256')
    offered = set(starttls['feature_mechanisms'].mech_list)
    report.check('server offers SCRAM-SHA-1 and SCRAM-SHA-256 over TLS',
                 {'SCRAM-SHA-1', 'SCRAM-SHA-256'} <= offered, sorted(offered))
    await login_case(cfg, report, 'starttls+scram-sha-1', False, 'SCRAM-SHA-1', 'SCRAM-SHA-1')
    # No mechanism forced: slixmpp picks the strongest one offered, which must be SCRAM-SHA-256.
    await login_case(cfg, report, 'direct-tls+default', True, None, 'SCRAM-SHA-256')
    await login_case(cfg, report, 'direct-tls+scram-sha-1', True, 'SCRAM-SHA-1', 'SCRAM-SHA-1')

    # RFC 6120 §6.5.10: a wrong password fails with <not-authorized/>.
    wrong = dict(cfg, users={'alice': {'jid': cfg['users']['alice']['jid'], 'password': 'not-the-password'}})
    client = Client(wrong, report, 'alice', resource='wrong', mech='SCRAM-SHA-256')
    ok, detail = await client.login()
    report.check('wrong password: login rejected with not-authorized (RFC 6120 §6.5.10)',
                 not ok and 'not-authorized' in detail, detail)
    await client.logout()


run(scenario)
