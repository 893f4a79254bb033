// XEP-0045 §7.2.14 discussion history sent on entering, limited by the room's historylength, the service
// cap (config.muc.historyMessages) and the client's <history maxchars maxstanzas seconds since/> (§7.2.15).
// Logged rooms read it from their archive (so it survives restarts); others keep it in memory.
import type { ArchiveQuery } from '../../router/module.ts';
import { parseElement } from '../../xmpp/stream-parser.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import type { MucEnv } from './env.ts';
import { MUC } from './ns.ts';
import type { Room } from './room.ts';

export interface HistoryLimits {
  maxStanzas: number;
  maxChars: number;
  /** ms since the epoch; only messages at or after it. */
  since: number | undefined;
}

function nonNegative(v: unknown): number | undefined {
  if (typeof v !== 'string' || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

export function historyLimits(room: Room, cap: number, h: Element | undefined, now: number): HistoryLimits {
  let maxStanzas = Math.min(room.config.historyLength, cap);
  let maxChars = Number.POSITIVE_INFINITY;
  let since: number | undefined;
  if (h) {
    const ms = nonNegative(h.attrs.maxstanzas);
    if (ms !== undefined) maxStanzas = Math.min(maxStanzas, ms);
    const mc = nonNegative(h.attrs.maxchars);
    if (mc !== undefined) maxChars = mc;
    const seconds = nonNegative(h.attrs.seconds);
    if (seconds !== undefined) since = now - seconds * 1000;
    const sinceAttr = typeof h.attrs.since === 'string' ? Date.parse(h.attrs.since) : Number.NaN;
    if (!Number.isNaN(sinceAttr)) since = since === undefined ? sinceAttr : Math.max(since, sinceAttr);
  }
  return { maxStanzas, maxChars, since };
}

interface Entry {
  el: Element;
  at: number;
}

async function latest(env: MucEnv, room: Room, limits: HistoryLimits): Promise<Entry[]> {
  if (!room.logs) {
    return room.recent.filter((r) => limits.since === undefined || r.at >= limits.since).map((r) => ({ el: r.xml, at: r.at }));
  }
  // before '' = the last page of the archive (XEP-0059 §2.5), in chronological order.
  const q: ArchiveQuery = { before: '', max: limits.maxStanzas };
  if (limits.since !== undefined) q.start = limits.since;
  const page = await env.archive.query(room.jid, q);
  const out: Entry[] = [];
  for (const item of page.items) {
    const el = parseElement(item.xml);
    // Only room messages are history: moderation notices and tombstones without a body are not replayed.
    if (el.name === 'message' && (el.getChild('body') || el.getChild('subject'))) out.push({ el, at: item.ts });
  }
  return out;
}

/** Sends history to one real full JID, each message with its §7.2.14 delay (from = the room). */
export async function sendHistory(env: MucEnv, room: Room, to: string, h: Element | undefined): Promise<void> {
  const limits = historyLimits(room, env.historyCap, h, Date.now());
  if (limits.maxStanzas === 0 || limits.maxChars === 0) return;
  const entries = (await latest(env, room, limits)).slice(-limits.maxStanzas);
  // §7.2.15: maxchars counts the whole XML of the messages sent; keep the newest that fit.
  const out: Element[] = [];
  let chars = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i] as Entry;
    const el = xml(e.el.name, { ...e.el.attrs }, ...e.el.children);
    el.append(xml('delay', { xmlns: MUC.DELAY, from: room.jid, stamp: new Date(e.at).toISOString() }));
    chars += el.toString().length;
    if (chars > limits.maxChars) break;
    out.unshift(el);
  }
  for (const el of out) env.fanout(el, [to]);
}
