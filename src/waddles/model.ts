// Names of the Waddle permission model: objects, subjects, relations, XEP-0045 affiliations, and the typed
// errors the service throws (transports map `code` to an XMPP stanza error condition or an HTTP status).
import { randomBytes } from 'node:crypto';
import { isWaddleId } from '../shard/realm.ts';
import type { Tuple } from '../storage/ports-waddles.ts';
import { bareOf, parseJid } from '../xmpp/jid.ts';

/** XEP-0045 §5.2 affiliations. */
export type Affiliation = 'owner' | 'admin' | 'member' | 'outcast' | 'none';
export const AFFILIATIONS: readonly Affiliation[] = ['owner', 'admin', 'member', 'outcast', 'none'];

/** Relations a tuple may name directly (the rest of a relation's meaning is the rewrite in permissions.ts). */
export type Relation = 'owner' | 'admin' | 'member' | 'banned' | 'viewer';

/** The stored relation of each affiliation ('none' is the absence of one). */
export const RELATION_OF: Readonly<Record<Exclude<Affiliation, 'none'>, Relation>> = {
  owner: 'owner',
  admin: 'admin',
  member: 'member',
  outcast: 'banned',
};
/** The relations that make up an affiliation: setting one replaces the others at the same level. */
export const AFFILIATION_RELATIONS: readonly Relation[] = ['owner', 'admin', 'member', 'banned'];

/** The CLI (and later other trusted operator paths): all rights. Anything else is a user's bare JID. */
export const OPERATOR = 'operator';
export type Actor = string;

export type WaddleChangeKind =
  | 'waddle-created'
  | 'waddle-updated'
  | 'waddle-deleted'
  | 'channel-created'
  | 'channel-updated'
  | 'channel-deleted'
  | 'affiliation';

/** Fired after a change has committed; live rooms re-evaluate their occupants. */
export interface WaddleChange {
  kind: WaddleChangeKind;
  waddle: string;
  channel?: string;
  /** Set for affiliation changes: the user whose affiliation changed. */
  user?: string;
}

export interface AffiliationEntry {
  user: string;
  affiliation: Exclude<Affiliation, 'none'>;
  /** Where the entry comes from: a tuple on the channel itself, or the Waddle's. */
  via: 'waddle' | 'channel';
}

export interface NewChannel {
  /** The room's localpart: a lowercase JID localpart. */
  name: string;
  title?: string;
  restricted?: boolean;
}

export type WaddleErrorCode = 'forbidden' | 'not-allowed' | 'item-not-found' | 'conflict' | 'bad-request';

/** Codes are XMPP stanza error conditions (RFC 6120 §8.3.3), so transports can map them one to one. */
export class WaddleError extends Error {
  readonly code: WaddleErrorCode;
  constructor(code: WaddleErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** 'forbidden': the actor lacks the right; 'not-allowed': the target may not be changed this way (XEP-0045 §9.1). */
export class PermissionDenied extends WaddleError {
  constructor(message: string, code: 'forbidden' | 'not-allowed' = 'forbidden') {
    super(code, message);
  }
}

export class NotFound extends WaddleError {
  constructor(message: string) {
    super('item-not-found', message);
  }
}

export class Conflict extends WaddleError {
  constructor(message: string) {
    super('conflict', message);
  }
}

export class InvalidArgument extends WaddleError {
  constructor(message: string) {
    super('bad-request', message);
  }
}

export function waddleObject(waddle: string): string {
  return `waddle:${waddle}`;
}

export function channelObject(waddle: string, channel: string): string {
  return `channel:${waddle}/${channel}`;
}

export function userSubject(bare: string): string {
  return `user:${bare}`;
}

export type ParsedObject =
  | { readonly type: 'waddle'; readonly waddle: string }
  | { readonly type: 'channel'; readonly waddle: string; readonly channel: string };

/** `waddle:<id>` or `channel:<id>/<name>`; undefined for anything else. */
export function parseObject(object: string): ParsedObject | undefined {
  if (object.startsWith('waddle:')) {
    const waddle = object.slice(7);
    return isWaddleId(waddle) ? { type: 'waddle', waddle } : undefined;
  }
  if (object.startsWith('channel:')) {
    const slash = object.indexOf('/', 8);
    if (slash === -1) return undefined;
    const waddle = object.slice(8, slash);
    const channel = object.slice(slash + 1);
    return isWaddleId(waddle) && channel !== '' ? { type: 'channel', waddle, channel } : undefined;
  }
  return undefined;
}

/** A userset subject `<object>#<relation>` split, or undefined for a user subject or garbage. */
export function parseUserset(subject: string): { object: string; relation: string } | undefined {
  if (subject.startsWith('user:')) return undefined;
  const hash = subject.lastIndexOf('#');
  if (hash <= 0) return undefined;
  const relation = subject.slice(hash + 1);
  return relation === '' ? undefined : { object: subject.slice(0, hash), relation };
}

/** A bare user JID, normalised (RFC 7622), or InvalidArgument. */
export function bareUser(text: string): string {
  let bare: string;
  try {
    const jid = parseJid(text);
    if (jid.local === '' || jid.resource !== '') throw new Error('not bare');
    bare = bareOf(jid);
  } catch {
    throw new InvalidArgument(`'${text}' is not a bare user JID`);
  }
  return bare;
}

/** A channel name is the room's localpart, so it must be one already in normalised (lowercase) form. */
export function checkChannelName(name: string): void {
  let ok = false;
  try {
    ok = parseJid(`${name}@x`).local === name && name.length <= 64;
  } catch {
    ok = false;
  }
  if (!ok) throw new InvalidArgument(`'${name}' is not a valid channel name (a lowercase JID localpart of at most 64 characters)`);
}

export function checkWaddleId(id: string): void {
  if (!isWaddleId(id)) throw new InvalidArgument(`'${id}' is not a valid Waddle id (a DNS label: a-z, 0-9, inner hyphens, at most 63)`);
}

/** Trimmed display text, at most `max` characters; `what` names it in the error. */
export function displayText(text: string, max: number, what: string, allowEmpty = false): string {
  const t = text.trim();
  if ((t === '' && !allowEmpty) || t.length > max) throw new InvalidArgument(`${what} must be 1-${max} characters`);
  return t;
}

export function viewerTuple(waddle: string, channel: string): Tuple {
  return { object: channelObject(waddle, channel), relation: 'viewer', subject: `${waddleObject(waddle)}#member` };
}

export function checkAffiliation(a: string): asserts a is Affiliation {
  if (!(AFFILIATIONS as readonly string[]).includes(a))
    throw new InvalidArgument(`unknown affiliation '${a}' (owner, admin, member, outcast, none)`);
}

export function tryBare(text: string): string | undefined {
  try {
    return bareUser(text);
  } catch {
    return undefined;
  }
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** `<slug of the name>-<6 random characters>`: readable, a valid DNS label, 30 bits of randomness. */
export function generateId(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '') // drop the accents NFKD split off: 'Ü' → 'U'
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)
    .replace(/^-+|-+$/g, '');
  const suffix = Array.from(randomBytes(6), (b) => ID_ALPHABET[b % 32]).join('');
  return slug === '' ? `w-${suffix}` : `${slug}-${suffix}`;
}
