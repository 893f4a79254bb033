// What the `muc` generator writes and how it reads replies without parsing XML: the XEP-0045 join and
// room-configuration stanzas, and substring scans for the join outcome (self-presence or error), an iq's
// result, and the `<sender>.<seq>.<µs>` stamp at the start of every groupchat body. Pure functions, so the
// tests can feed them any split of the received text.

const MESSAGE_OPEN = '<message';
const MESSAGE_END = '</message>';
/** A connection's unparsed tail beyond this means the stream is not what we expect. */
const MAX_PENDING_CHARS = 1 << 20;

/** XEP-0045 §7.2.1 join (the muc <x/> says "I speak MUC"), with no discussion history (§7.2.14). */
export function joinPresence(room: string, nick: string): string {
  return `<presence to='${room}/${nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`;
}

/** XEP-0045 §10.1.2: the owner accepts the default configuration (an empty submitted form) to unlock a new room. */
export function instantRoomIq(room: string, id: string): string {
  return `<iq type='set' to='${room}' id='${id}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`;
}

/**
 * XEP-0045 §10.1.3: the owner submits a configuration that changes only muc#roomconfig_enablelogging (off), which
 * also unlocks the room; fields a form leaves out keep their defaults (§10.2).
 */
export function noLoggingRoomIq(room: string, id: string): string {
  const field = (v: string, value: string) => `<field var='${v}'><value>${value}</value></field>`;
  return `<iq type='set' to='${room}' id='${id}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>${field('FORM_TYPE', 'http://jabber.org/protocol/muc#roomconfig')}${field('muc#roomconfig_enablelogging', '0')}</x></query></iq>`;
}

export type JoinOutcome = { kind: 'pending' } | { kind: 'joined'; created: boolean } | { kind: 'error'; stanza: string };

const hasAttr = (head: string, name: string, value: string) => head.includes(`${name}='${value}`) || head.includes(`${name}="${value}`);
const hasStatus = (s: string, code: string) => s.includes(`code='${code}'`) || s.includes(`code="${code}"`);

/**
 * What the presences received since a join say: the self-presence (status 110, §7.2.2; with 201 when the
 * join created the room, §10.1.1), an error presence from the room (§7.2.6-§7.2.11, e.g. creation
 * refused), or nothing yet. Other occupants' presences are skipped.
 */
export function joinOutcome(text: string, room: string): JoinOutcome {
  let at = text.indexOf('<presence');
  while (at !== -1) {
    const gt = text.indexOf('>', at);
    if (gt === -1) break;
    let end: number;
    if (text[gt - 1] === '/') end = gt + 1;
    else {
      const close = text.indexOf('</presence>', gt);
      if (close === -1) break;
      end = close + '</presence>'.length;
    }
    const head = text.slice(at, gt);
    if (hasAttr(head, 'from', `${room}/`) || hasAttr(head, 'from', `${room}'`) || hasAttr(head, 'from', `${room}"`)) {
      const stanza = text.slice(at, end);
      if (hasAttr(head, 'type', 'error')) return { kind: 'error', stanza };
      if (hasStatus(stanza, '110')) return { kind: 'joined', created: hasStatus(stanza, '201') };
    }
    at = text.indexOf('<presence', end);
  }
  return { kind: 'pending' };
}

/** The reply to iq `id`: 'pending', 'result', or the error stanza's text. */
export function iqOutcome(text: string, id: string): 'pending' | 'result' | { error: string } {
  const idAt = Math.max(text.indexOf(`id='${id}'`), text.indexOf(`id="${id}"`));
  if (idAt === -1) return 'pending';
  const open = text.lastIndexOf('<iq', idAt);
  const gt = text.indexOf('>', idAt);
  if (open === -1 || gt === -1) return 'pending';
  if (!hasAttr(text.slice(open, gt), 'type', 'error')) return 'result';
  const close = text.indexOf('</iq>', gt);
  return close === -1 && text[gt - 1] !== '/' ? 'pending' : { error: text.slice(open, close === -1 ? gt + 1 : close + 5) };
}

/** The stamp every body starts with. */
export interface Stamp {
  sender: number;
  seq: number;
  us: number;
}

/** Reads `<sender>.<seq>.<µs>` at `at` into `out` (no allocation); false when the text is not one of ours. */
export function readStamp(text: string, at: number, out: Stamp): boolean {
  let n = 0;
  let part = 0;
  let digits = 0;
  for (let i = at; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      digits++;
      continue;
    }
    if (digits === 0) return false;
    if (c !== 46) break; // '.'
    if (part === 2) return false;
    if (part === 0) out.sender = n;
    else out.seq = n;
    part++;
    n = 0;
    digits = 0;
  }
  if (part !== 2 || digits === 0) return false;
  out.us = n;
  return true;
}

/**
 * Visits every complete `<message>…</message>` in `text` from `from` whose body starts with a stamp
 * (`error`: the message is a bounce, type='error', RFC 6120 §8.3); returns where the unconsumed text starts.
 */
export function scanMessages(text: string, from: number, out: Stamp, visit: (stamp: Stamp, error: boolean) => void): number {
  for (;;) {
    const end = text.indexOf(MESSAGE_END, from);
    if (end === -1) return from;
    const open = text.lastIndexOf(MESSAGE_OPEN, end);
    if (open >= from) {
      const tagEnd = text.indexOf('>', open);
      const body = text.indexOf('<body', tagEnd);
      const bodyGt = body === -1 ? -1 : text.indexOf('>', body);
      if (bodyGt !== -1 && bodyGt < end && readStamp(text, bodyGt + 1, out)) {
        const typeAt = text.indexOf(' type=', open);
        visit(out, typeAt !== -1 && typeAt < tagEnd && text.startsWith('error', typeAt + 7));
      }
    }
    from = end + MESSAGE_END.length;
  }
}

/** What to keep of `text` after `consumed`: an unfinished `<message`, or a tail that may be the start of one. */
export function unconsumedTail(text: string, consumed: number): string {
  const open = text.indexOf(MESSAGE_OPEN, consumed);
  const rest = open !== -1 ? text.slice(open) : text.slice(Math.max(consumed, text.length - MESSAGE_OPEN.length));
  return rest.length > MAX_PENDING_CHARS ? rest.slice(-65536) : rest;
}
