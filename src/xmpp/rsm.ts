// XEP-0059 Result Set Management: the <set xmlns='http://jabber.org/protocol/rsm'/> element, both ways. Pure.
import { StanzaError } from './errors.ts';
import { type Element, xml } from './xml.ts';

export const RSM_NS = 'http://jabber.org/protocol/rsm';

export interface RsmRequest {
  /** §2.1 page size; undefined when absent. */
  max?: number;
  /** §2.2 next page: items after this id. */
  after?: string;
  /** §2.3/§2.5 previous page: items before this id; '' (an empty <before/>) is the last page. */
  before?: string;
  /** §2.4 page by index (out of order access). */
  index?: number;
}

export interface RsmResult {
  first?: string;
  /** §2.6: index of `first` within the whole result set. */
  firstIndex?: number;
  last?: string;
  count?: number;
}

/** Non-negative integer in decimal, as XEP-0059 §2.1 (<max/>) and §2.4 (<index/>) require. */
const NON_NEGATIVE = /^\d{1,9}$/;

/** Reads a request <set/>; throws bad-request (XEP-0059 §2.1: a malformed request) for non-numeric max/index. */
export function parseRsm(set: Element): RsmRequest {
  const out: RsmRequest = {};
  const max = set.getChild('max');
  if (max !== undefined) out.max = nonNegative(max.getText().trim(), 'max');
  const index = set.getChild('index');
  if (index !== undefined) out.index = nonNegative(index.getText().trim(), 'index');
  const after = set.getChild('after');
  if (after !== undefined) {
    const id = after.getText();
    // §2.2: <after/> carries the id of the last item of the previous page; an empty one names nothing.
    if (id === '') throw new StanzaError('modify', 'bad-request', 'empty <after/>');
    out.after = id;
  }
  const before = set.getChild('before');
  if (before !== undefined) out.before = before.getText();
  return out;
}

/** The RSM <set/> of a response (XEP-0059 §2.1): <first index/> and <last/> only when the page has items. */
export function rsmElement(r: RsmResult): Element {
  const set = xml('set', { xmlns: RSM_NS });
  if (r.first !== undefined) {
    set.append(r.firstIndex === undefined ? xml('first', {}, r.first) : xml('first', { index: String(r.firstIndex) }, r.first));
  }
  if (r.last !== undefined) set.append(xml('last', {}, r.last));
  if (r.count !== undefined) set.append(xml('count', {}, String(r.count)));
  return set;
}

function nonNegative(text: string, name: string): number {
  if (!NON_NEGATIVE.test(text)) throw new StanzaError('modify', 'bad-request', `<${name}/> must be a non-negative integer`);
  return Number(text);
}
