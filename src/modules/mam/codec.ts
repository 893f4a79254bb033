// XEP-0313 Message Archive Management (urn:xmpp:mam:2, with #extended) wire format: the query (data form +
// XEP-0059 RSM + <flip-page/>), the result messages, <fin/>, the form served on iq-get, and <metadata/>.
// Pure; shared by personal archives (this module) and room archives (the MUC module).
import type { ArchivedStanza, ArchivePage, ArchiveQuery } from '../../router/module.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { fullOf, tryParseJid } from '../../xmpp/jid.ts';
import { RSM_NS, parseRsm, rsmElement } from '../../xmpp/rsm.ts';
import { parseElement } from '../../xmpp/stream-parser.ts';
import { type Element, xml } from '../../xmpp/xml.ts';

export const MAM_NS = {
  MAM: 'urn:xmpp:mam:2',
  /** XEP-0313 §4.1: before-id, after-id, ids, <flip-page/> and <metadata/>. */
  EXTENDED: 'urn:xmpp:mam:2#extended',
  FORWARD: 'urn:xmpp:forward:0',
  DELAY: 'urn:xmpp:delay',
  DATA: 'jabber:x:data',
  XDATA_VALIDATE: 'http://jabber.org/protocol/xdata-validate',
  CLIENT: 'jabber:client',
} as const;

/** Page size when the client gives no <max/> (XEP-0313 §4.3.1 lets the server choose), before the configured cap. */
export const DEFAULT_PAGE_SIZE = 50;
/** More ids than this in one 'ids' field is refused: each must be looked up, and a page holds at most maxPageSize. */
export const MAX_IDS = 1000;

export interface ParsedMamQuery {
  queryId?: string;
  query: ArchiveQuery;
  /** XEP-0313 §4.3.4: send the page newest first. It changes only the order of transmission. */
  flip: boolean;
}

/** XEP-0082 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD, TZD = Z or ±hh:mm. */
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

function dateTime(value: string, field: string): number {
  const ms = DATETIME.test(value) ? Date.parse(value) : Number.NaN;
  // XEP-0313 §4.1.2: 'start'/'end' MUST be XEP-0082 timestamps; anything else is a bad form.
  if (Number.isNaN(ms)) throw new StanzaError('modify', 'bad-request', `'${field}' is not a XEP-0082 DateTime`);
  return ms;
}

function values(field: Element): string[] {
  return field.getChildren('value').map((v) => v.getText());
}

function single(field: Element, name: string): string | undefined {
  const v = values(field);
  if (v.length > 1) throw new StanzaError('modify', 'bad-request', `'${name}' takes one value`);
  const text = v[0]?.trim();
  // An empty field is treated as absent: several clients submit every field of the form they fetched.
  return text === undefined || text === '' ? undefined : text;
}

/**
 * Reads `<query xmlns='urn:xmpp:mam:2' queryid?>` (XEP-0313 §4). `maxPageSize` caps RSM <max/> (§4.3.1: the server
 * MAY limit the page). Throws StanzaError: bad-request for malformed forms and values, feature-not-implemented
 * for unknown fields (§4.1.5) and RSM <index/> (page by index is not offered).
 */
export function parseMamQuery(payload: Element, maxPageSize: number): ParsedMamQuery {
  const query: ArchiveQuery = { max: Math.min(DEFAULT_PAGE_SIZE, maxPageSize) };
  const out: ParsedMamQuery = { query, flip: payload.getChild('flip-page', MAM_NS.MAM) !== undefined };
  const queryId = payload.attrs.queryid as string | undefined;
  if (queryId !== undefined) out.queryId = queryId;

  const form = payload.getChild('x', MAM_NS.DATA);
  if (form !== undefined) {
    const type = form.attrs.type as string | undefined;
    if (type !== undefined && type !== 'submit') throw new StanzaError('modify', 'bad-request', "the form must be of type 'submit'");
    for (const field of form.getChildren('field')) {
      const name = field.attrs.var as string | undefined;
      switch (name) {
        case 'FORM_TYPE': {
          // §4.1: "The hidden FORM_TYPE field MUST be set to this protocol's namespace".
          if (single(field, name) !== MAM_NS.MAM) throw new StanzaError('modify', 'bad-request', `FORM_TYPE must be ${MAM_NS.MAM}`);
          break;
        }
        case 'with': {
          const text = single(field, name);
          if (text === undefined) break;
          const jid = tryParseJid(text);
          if (jid === undefined) throw new StanzaError('modify', 'bad-request', "'with' is not a JID");
          query.with = fullOf(jid);
          break;
        }
        case 'start':
        case 'end': {
          const text = single(field, name);
          if (text !== undefined) query[name] = dateTime(text, name);
          break;
        }
        case 'after-id':
        case 'before-id': {
          const text = single(field, name);
          if (text === undefined) break;
          if (name === 'after-id') query.afterId = text;
          else query.beforeId = text;
          break;
        }
        case 'ids': {
          const ids = values(field)
            .map((v) => v.trim())
            .filter((v) => v !== '');
          if (ids.length > MAX_IDS) throw new StanzaError('modify', 'policy-violation', `at most ${MAX_IDS} ids per query`);
          if (ids.length > 0) query.ids = ids;
          break;
        }
        default:
          // §4.1.5: "If a client includes a form field that the server does not recognise, the server MUST
          // respond with a 'feature-not-implemented' error."
          throw new StanzaError('cancel', 'feature-not-implemented', `unknown field '${name ?? ''}'`);
      }
    }
  }

  const set = payload.getChild('set', RSM_NS);
  if (set !== undefined) {
    const rsm = parseRsm(set);
    if (rsm.index !== undefined) throw new StanzaError('cancel', 'feature-not-implemented', 'paging by <index/> is not supported');
    if (rsm.max !== undefined) query.max = Math.min(rsm.max, maxPageSize);
    if (rsm.after !== undefined) query.after = rsm.after;
    if (rsm.before !== undefined) query.before = rsm.before;
  }
  return out;
}

/** The page in the order it is to be sent: chronological, or newest first for <flip-page/> (§4.3.4). */
export function pageOrder(items: readonly ArchivedStanza[], flip: boolean): ArchivedStanza[] {
  return flip ? [...items].reverse() : [...items];
}

/**
 * One `<message to><result xmlns='urn:xmpp:mam:2' queryid? id><forwarded><delay stamp/><message…/></forwarded>
 * </result></message>` per item, in the order given (XEP-0313 §4.2). The stored stanza is put back whole,
 * re-namespaced to jabber:client as XEP-0297 §3 forwarding requires. A row that no longer parses is still reported
 * (§3.2 allows omitting the <message/>), so the client's paging stays consistent.
 */
export function resultMessages(opts: { to: string; from?: string; queryId?: string; items: readonly ArchivedStanza[] }): Element[] {
  const attrs: Record<string, string> = { to: opts.to };
  if (opts.from !== undefined) attrs.from = opts.from;
  return opts.items.map((item) => {
    const resultAttrs: Record<string, string> = { xmlns: MAM_NS.MAM, id: item.id };
    if (opts.queryId !== undefined) resultAttrs.queryid = opts.queryId;
    const forwarded = xml(
      'forwarded',
      { xmlns: MAM_NS.FORWARD },
      xml('delay', { xmlns: MAM_NS.DELAY, stamp: new Date(item.ts).toISOString() }),
    );
    const original = tryParse(item.xml);
    if (original !== undefined) {
      original.attrs.xmlns = MAM_NS.CLIENT;
      forwarded.append(original);
    }
    return xml('message', { ...attrs }, xml('result', resultAttrs, forwarded));
  });
}

function tryParse(text: string): Element | undefined {
  try {
    return parseElement(text);
  } catch {
    return undefined;
  }
}

/**
 * `<fin xmlns='urn:xmpp:mam:2' complete?><set>first/last/count</set></fin>` (XEP-0313 §4.3). <first>/<last> are
 * always the oldest and newest item of the page: §4.3.4 says flipping "does not affect what results are returned",
 * only their order on the wire, so `flip` changes nothing here (it is part of the signature for callers' symmetry).
 */
export function finElement(page: ArchivePage, opts: { flip: boolean }): Element {
  void opts.flip;
  const attrs: Record<string, string> = { xmlns: MAM_NS.MAM };
  // §4.3.3: complete='true' when the page was not limited, i.e. it reaches the end in the paging direction.
  if (page.complete) attrs.complete = 'true';
  const first = page.items[0];
  const last = page.items[page.items.length - 1];
  const set =
    first === undefined || last === undefined
      ? rsmElement({ count: page.count })
      : rsmElement({ first: first.id, firstIndex: page.firstIndex, last: last.id, count: page.count });
  return xml('fin', attrs, set);
}

/** XEP-0313 §4.1.5 "Retrieving form fields": the fields a query may use, the #extended ones included. */
export function queryFormElement(): Element {
  const field = (v: string, type: string) => xml('field', { var: v, type });
  return xml(
    'query',
    { xmlns: MAM_NS.MAM },
    xml(
      'x',
      { xmlns: MAM_NS.DATA, type: 'form' },
      xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, MAM_NS.MAM)),
      field('with', 'jid-single'),
      field('start', 'text-single'),
      field('end', 'text-single'),
      field('before-id', 'text-single'),
      field('after-id', 'text-single'),
      // §4.1.5: 'ids' is list-multi with an open XEP-0122 <validate/>, and the server MUST NOT list the options.
      xml(
        'field',
        { var: 'ids', type: 'list-multi' },
        xml('validate', { xmlns: MAM_NS.XDATA_VALIDATE, datatype: 'xs:string' }, xml('open')),
      ),
    ),
  );
}

/** XEP-0313 §5 archive metadata; an empty archive has no <start/>/<end/>. */
export function metadataElement(bounds: { first?: { id: string; ts: number }; last?: { id: string; ts: number } }): Element {
  const el = xml('metadata', { xmlns: MAM_NS.MAM });
  if (bounds.first) el.append(xml('start', { id: bounds.first.id, timestamp: new Date(bounds.first.ts).toISOString() }));
  if (bounds.last) el.append(xml('end', { id: bounds.last.id, timestamp: new Date(bounds.last.ts).toISOString() }));
  return el;
}
