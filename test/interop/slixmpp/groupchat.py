"""Helpers for the group chat (XEP-0045) and archive (XEP-0313) interop scripts, muc.py and mam.py, on top
of common.py: raw ElementTree access to what arrived (status codes, stanza-ids, occupant-ids, errors), so a
check reads the stanza the server sent rather than a slixmpp plugin's interpretation of it, plus the join,
disco#info and MAM query steps.
"""
import uuid
import xml.etree.ElementTree as ET

from common import JID, iq_outcome

NS_CLIENT = 'jabber:client'
NS_MUC = 'http://jabber.org/protocol/muc'
NS_MUC_USER = 'http://jabber.org/protocol/muc#user'
NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin'
NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner'
NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info'
NS_DATA = 'jabber:x:data'
NS_SID = 'urn:xmpp:sid:0'
NS_DELAY = 'urn:xmpp:delay'
NS_MAM = 'urn:xmpp:mam:2'
NS_RSM = 'http://jabber.org/protocol/rsm'
NS_FORWARD = 'urn:xmpp:forward:0'
NS_OCCUPANT_ID = 'urn:xmpp:occupant-id:0'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'


def q(ns, name):
    return '{%s}%s' % (ns, name)


def el(ns, name, attrs=None, text=None, children=()):
    """An ElementTree element in its own namespace (a child inherits nothing: every element names its ns)."""
    e = ET.Element(q(ns, name), {k: v for k, v in (attrs or {}).items() if v is not None})
    if text is not None:
        e.text = text
    for c in children:
        e.append(c)
    return e


def xml_of(stanza):
    return stanza.xml if hasattr(stanza, 'xml') else stanza


def muc_user(stanza):
    return xml_of(stanza).find(q(NS_MUC_USER, 'x'))


def status_codes(stanza):
    """The muc#user status codes of a presence or message, as a set of ints (XEP-0045 §15.6.2)."""
    x = muc_user(stanza)
    if x is None:
        return set()
    return {int(s.get('code')) for s in x.findall(q(NS_MUC_USER, 'status')) if (s.get('code') or '').isdigit()}


def muc_item(stanza):
    """The muc#user <item/> attributes ({} when absent)."""
    x = muc_user(stanza)
    item = x.find(q(NS_MUC_USER, 'item')) if x is not None else None
    return dict(item.attrib) if item is not None else {}


def stanza_ids(stanza):
    """The XEP-0359 <stanza-id/> elements as (by, id) pairs."""
    return [(s.get('by'), s.get('id')) for s in xml_of(stanza).findall(q(NS_SID, 'stanza-id'))]


def stanza_id_by(stanza, by):
    ids = [i for b, i in stanza_ids(stanza) if b == by]
    return ids[0] if len(ids) == 1 else None


def occupant_id(stanza):
    e = xml_of(stanza).find(q(NS_OCCUPANT_ID, 'occupant-id'))
    return e.get('id') if e is not None else None


def error_condition(stanza):
    """The defined condition of a stanza error ('' when none)."""
    err = xml_of(stanza).find(q(NS_CLIENT, 'error'))
    if err is None:
        return ''
    for c in err:
        if c.tag.startswith('{%s}' % NS_STANZAS) and not c.tag.endswith('}text'):
            return c.tag.split('}')[1]
    return ''


def new_id(prefix='id'):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:12])


async def send_iq(report, client, ito, itype, payload):
    """Sends an iq with an ElementTree payload; ('result'|'error:<cond>'|'timeout', reply iq or None)."""
    iq = client.make_iq(ito=JID(ito) if ito else None, itype=itype)
    iq.appendxml(payload)
    return await iq_outcome(report, iq.send(timeout=report.timeout() + 1))


async def disco_info(report, client, jid):
    """(kind, features set, identities [(category, type)], reply xml) of a disco#info query (XEP-0030 §3.1)."""
    kind, iq = await send_iq(report, client, jid, 'get', el(NS_DISCO_INFO, 'query'))
    if kind != 'result' or iq is None:
        return kind, set(), [], None
    query = iq.xml.find(q(NS_DISCO_INFO, 'query'))
    if query is None:
        return kind, set(), [], None
    feats = {f.get('var') for f in query.findall(q(NS_DISCO_INFO, 'feature'))}
    idents = [(i.get('category'), i.get('type')) for i in query.findall(q(NS_DISCO_INFO, 'identity'))]
    return kind, feats, idents, query


def occupant_presence(room, nick=None, types=('available',)):
    """A presence from room/nick (any nick when None) of one of `types`, errors excluded."""
    def match(s):
        if s.name != 'presence' or s['type'] not in types:
            return False
        f = s['from']
        return f.bare == room and (nick is None or f.resource == nick)
    return match


def self_presence(room, types=('available',)):
    """The room's presence about the receiving occupant itself: status 110 (XEP-0045 §7.2.3)."""
    return lambda s: occupant_presence(room, None, types)(s) and 110 in status_codes(s)


async def join_room(client, room, nick, history=None, password=None):
    """Sends the join presence (XEP-0045 §7.2.1) and waits for the self-presence (status 110) or a presence
    error from the room. Returns (outcome, stanza): ('joined', pres) | ('error:<cond>', pres) | ('timeout', None).
    `history` is a dict of <history/> attributes (§7.2.15), e.g. {'maxstanzas': '3'}."""
    seen = {id(s) for s in client.received}
    pres = client.make_presence(pto=JID('%s/%s' % (room, nick)))
    x = el(NS_MUC, 'x')
    if history is not None:
        x.append(el(NS_MUC, 'history', {k: str(v) for k, v in history.items()}))
    if password is not None:
        x.append(el(NS_MUC, 'password', text=password))
    pres.appendxml(x)
    pres.send()

    def outcome(s):
        if s.name != 'presence' or s['from'].bare != room or id(s) in seen:
            return False
        return s['type'] == 'error' or 110 in status_codes(s)
    got = await client.wait_for(outcome)
    if got is None:
        return 'timeout', None
    if got['type'] == 'error':
        return 'error:' + error_condition(got), got
    return 'joined', got


def since(client, mark, pred):
    """Stanzas received after index `mark` matching pred."""
    return [s for s in client.received[mark:] if pred(s)]


def groupchat_from(room, nick=None, body=None):
    def match(s):
        if s.name != 'message' or s['type'] != 'groupchat' or s['from'].bare != room:
            return False
        if nick is not None and s['from'].resource != nick:
            return False
        return body is None or s['body'] == body
    return match


async def mam_query(report, client, archive=None, with_jid=None, max_items=None, before=None, after=None, flip=False):
    """A XEP-0313 query (urn:xmpp:mam:2) to `archive` (None: the user's own archive), RSM-paged (XEP-0059).
    Returns (kind, results, fin): results are (result id, forwarded <message/> xml, delay stamp) in the order
    received; fin is the <fin/> element (None on error). `before=''` asks for the last page (§4.3 RSM)."""
    qid = new_id('q')
    query = el(NS_MAM, 'query', {'queryid': qid})
    if with_jid is not None:
        form = el(NS_DATA, 'x', {'type': 'submit'}, children=[
            el(NS_DATA, 'field', {'var': 'FORM_TYPE', 'type': 'hidden'}, children=[el(NS_DATA, 'value', text=NS_MAM)]),
            el(NS_DATA, 'field', {'var': 'with'}, children=[el(NS_DATA, 'value', text=with_jid)]),
        ])
        query.append(form)
    if max_items is not None or before is not None or after is not None:
        rsm = el(NS_RSM, 'set')
        if max_items is not None:
            rsm.append(el(NS_RSM, 'max', text=str(max_items)))
        if before is not None:
            rsm.append(el(NS_RSM, 'before', text=before or None))
        if after is not None:
            rsm.append(el(NS_RSM, 'after', text=after))
        query.append(rsm)
    if flip:
        query.append(el(NS_MAM, 'flip-page'))  # XEP-0313 §4.3.1 (urn:xmpp:mam:2#extended)
    iq = client.make_iq(ito=JID(archive) if archive else None, itype='set')
    iq.appendxml(query)
    kind, reply = await iq_outcome(report, iq.send(timeout=report.timeout() + 1))
    results = []
    for s in client.received:
        if s.name != 'message':
            continue
        r = s.xml.find(q(NS_MAM, 'result'))
        if r is None or r.get('queryid') != qid:
            continue
        fwd = r.find(q(NS_FORWARD, 'forwarded'))
        msg = fwd.find(q(NS_CLIENT, 'message')) if fwd is not None else None
        delay = fwd.find(q(NS_DELAY, 'delay')) if fwd is not None else None
        results.append((r.get('id'), msg, delay.get('stamp') if delay is not None else None, str(s['from'])))
    fin = reply.xml.find(q(NS_MAM, 'fin')) if kind == 'result' and reply is not None else None
    return kind, results, fin


def rsm_of(fin):
    """(first, last, count, complete) of a MAM <fin/> (XEP-0313 §4.3, XEP-0059 §2)."""
    if fin is None:
        return None, None, None, False
    s = fin.find(q(NS_RSM, 'set'))
    first = s.find(q(NS_RSM, 'first')) if s is not None else None
    last = s.find(q(NS_RSM, 'last')) if s is not None else None
    count = s.find(q(NS_RSM, 'count')) if s is not None else None
    return (first.text if first is not None else None, last.text if last is not None else None,
            int(count.text) if count is not None and (count.text or '').isdigit() else None,
            fin.get('complete') in ('true', '1'))


def body_of(msg_xml):
    b = msg_xml.find(q(NS_CLIENT, 'body')) if msg_xml is not None else None
    return b.text if b is not None else None


def unseen(client):
    """A predicate wrapper that ignores every stanza `client` has received so far: for waiting on a stanza
    that looks like one seen earlier (a second unavailable from the same room, say)."""
    seen = {id(s) for s in client.received}
    return lambda pred: (lambda s: id(s) not in seen and pred(s))


# XEP-0045 §6.4: a room advertises one feature of each pair.
PAIRS = [('muc_semianonymous', 'muc_nonanonymous'), ('muc_open', 'muc_membersonly'), ('muc_moderated', 'muc_unmoderated'),
         ('muc_persistent', 'muc_temporary'), ('muc_public', 'muc_hidden'), ('muc_passwordprotected', 'muc_unsecured')]
NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items'
NS_PING = 'urn:xmpp:ping'
SELF_PING = 'http://jabber.org/protocol/muc#self-ping-optimization'
NS_MODERATE = 'urn:xmpp:message-moderate:1'
NS_RETRACT = 'urn:xmpp:message-retract:1'


def field(var, value):
    return el(NS_DATA, 'field', {'var': var}, children=[el(NS_DATA, 'value', text=value)])


async def configure(report, owner, room, fields):
    """Submits the muc#owner configuration form (XEP-0045 §10.1.3; an empty form is the instant room, §10.1.2)."""
    form = el(NS_DATA, 'x', {'type': 'submit'}, children=[field('FORM_TYPE', 'http://jabber.org/protocol/muc#roomconfig')]
              + [field(k, v) for k, v in fields.items()]) if fields else el(NS_DATA, 'x', {'type': 'submit'})
    return await send_iq(report, owner, room, 'set', el(NS_MUC_OWNER, 'query', children=[form]))


async def admin_set(report, client, room, item, reason=None):
    node = el(NS_MUC_ADMIN, 'item', item, children=[el(NS_MUC_ADMIN, 'reason', text=reason)] if reason else [])
    return await send_iq(report, client, room, 'set', el(NS_MUC_ADMIN, 'query', children=[node]))


async def affiliation_list(report, client, room, affiliation):
    kind, iq = await send_iq(report, client, room, 'get',
                             el(NS_MUC_ADMIN, 'query', children=[el(NS_MUC_ADMIN, 'item', {'affiliation': affiliation})]))
    if kind != 'result':
        return kind, None
    items = iq.xml.findall('%s/%s' % (q(NS_MUC_ADMIN, 'query'), q(NS_MUC_ADMIN, 'item')))
    return kind, sorted(JID(i.get('jid')).bare for i in items)


def groupchat(client, room, body, mid=None):
    msg = client.make_message(mto=JID(room), mbody=body, mtype='groupchat')
    msg['id'] = mid or new_id('gc')
    msg.send()
    return msg['id']
