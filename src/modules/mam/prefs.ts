// XEP-0313 §6 / XEP-0441 archiving preferences: the <prefs/> codec and the decision it drives. Pure.
import type { MamPrefs } from '../../router/module.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { bareOf, tryParseJid } from '../../xmpp/jid.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import { MAM_NS } from './codec.ts';

const POLICIES: ReadonlySet<string> = new Set(['always', 'never', 'roster']);
/** A user's lists are kept in one row and read for every message: bound them. */
export const MAX_PREFS_JIDS = 1000;

function jidList(parent: Element | undefined): string[] {
  if (parent === undefined) return [];
  const out = new Set<string>();
  for (const el of parent.getChildren('jid')) {
    const jid = tryParseJid(el.getText().trim());
    if (jid === undefined) throw new StanzaError('modify', 'jid-malformed', `not a JID: ${el.getText()}`);
    // Rules are applied per contact bare JID (the 'with' of the archive), so lists hold bare JIDs.
    out.add(bareOf(jid));
  }
  return [...out].sort();
}

/** Reads an iq-set <prefs default=…><always/><never/></prefs>; bad-request without a valid 'default' (XEP-0441 §3). */
export function parsePrefs(el: Element): MamPrefs {
  const policy = el.attrs.default as string | undefined;
  if (policy === undefined || !POLICIES.has(policy)) {
    throw new StanzaError('modify', 'bad-request', "'default' must be always, never or roster");
  }
  const always = jidList(el.getChild('always'));
  const never = jidList(el.getChild('never'));
  if (always.length + never.length > MAX_PREFS_JIDS) throw new StanzaError('modify', 'policy-violation', `at most ${MAX_PREFS_JIDS} JIDs`);
  // A JID in both lists is ambiguous; 'never' wins (the privacy-preserving reading), so it is dropped from 'always'.
  const neverSet = new Set(never);
  return { default: policy as MamPrefs['default'], always: always.filter((j) => !neverSet.has(j)), never };
}

export function prefsElement(p: MamPrefs): Element {
  const list = (name: string, jids: readonly string[]) => xml(name, {}, ...jids.map((j) => xml('jid', {}, j)));
  return xml('prefs', { xmlns: MAM_NS.MAM, default: p.default }, list('always', p.always), list('never', p.never));
}

/**
 * XEP-0441 §3: whether a message exchanged with `contact` (bare JID) is archived. The lists win over the default;
 * 'roster' archives only contacts in the roster, so `inRoster` is only asked in that case.
 */
export function shouldArchive(
  prefs: MamPrefs,
  contact: string,
  inRoster: (contact: string) => boolean | Promise<boolean>,
): boolean | Promise<boolean> {
  if (prefs.never.includes(contact)) return false;
  if (prefs.always.includes(contact)) return true;
  if (prefs.default === 'roster') return inRoster(contact);
  return prefs.default === 'always';
}
