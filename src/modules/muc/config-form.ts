// XEP-0045 §10.2 / §15.5.3 muc#roomconfig: the room configuration, its data form (XEP-0004) and its stored
// JSON form. Pure: no I/O.
import { StanzaError } from '../../xmpp/errors.ts';
import { type Element, xml } from '../../xmpp/xml.ts';
import { MUC } from './ns.ts';

export type Whois = 'moderators' | 'anyone';
export type AllowPm = 'anyone' | 'participants' | 'moderators' | 'none';

export interface RoomConfig {
  name: string;
  description: string;
  persistent: boolean;
  membersOnly: boolean;
  moderated: boolean;
  passwordProtected: boolean;
  password: string;
  public: boolean;
  whois: Whois;
  /** 0 = no room limit (the service's maxOccupants still applies). */
  maxUsers: number;
  historyLength: number;
  /** Occupants (not only moderators) may change the subject. */
  changeSubject: boolean;
  allowPm: AllowPm;
  allowInvites: boolean;
  /** Messages are archived (XEP-0313 on the room JID) and history comes from the archive. */
  logging: boolean;
}

export function defaultConfig(historyCap: number): RoomConfig {
  return {
    name: '',
    description: '',
    persistent: false,
    membersOnly: false,
    moderated: false,
    passwordProtected: false,
    password: '',
    public: true,
    whois: 'moderators',
    maxUsers: 0,
    historyLength: historyCap,
    changeSubject: false,
    allowPm: 'anyone',
    allowInvites: false,
    logging: true,
  };
}

/** The stored JSON (RoomStore config column) back into a config; unknown or bad keys keep their defaults. */
export function configFromJson(json: Record<string, unknown>, historyCap: number): RoomConfig {
  const c = defaultConfig(historyCap);
  const out: Record<string, unknown> = { ...c };
  for (const [k, v] of Object.entries(c)) {
    if (typeof json[k] === typeof v) out[k] = json[k];
  }
  return out as unknown as RoomConfig;
}

const F = 'muc#roomconfig_';
const WHOIS: ReadonlySet<string> = new Set(['moderators', 'anyone']);
const ALLOW_PM: ReadonlySet<string> = new Set(['anyone', 'participants', 'moderators', 'none']);

function field(v: string, type: string, label: string, values: readonly string[], options?: readonly string[]): Element {
  const f = xml('field', { var: v, type, label });
  for (const o of options ?? []) f.append(xml('option', { label: o }, xml('value', {}, o)));
  for (const value of values) f.append(xml('value', {}, value));
  return f;
}

const bool = (b: boolean): string[] => [b ? '1' : '0'];

/** §10.2 example 163: the form an owner fills in (type 'form'). */
export function configForm(c: RoomConfig, historyCap: number): Element {
  return xml(
    'x',
    { xmlns: 'jabber:x:data', type: 'form' },
    xml('title', {}, 'Room configuration'),
    field('FORM_TYPE', 'hidden', '', [MUC.ROOMCONFIG]),
    field(`${F}roomname`, 'text-single', 'Name', [c.name]),
    field(`${F}roomdesc`, 'text-single', 'Description', [c.description]),
    field(`${F}persistentroom`, 'boolean', 'Persistent', bool(c.persistent)),
    field(`${F}publicroom`, 'boolean', 'Listed in the directory', bool(c.public)),
    field(`${F}membersonly`, 'boolean', 'Members only', bool(c.membersOnly)),
    field(`${F}moderatedroom`, 'boolean', 'Moderated', bool(c.moderated)),
    field(`${F}passwordprotectedroom`, 'boolean', 'Password protected', bool(c.passwordProtected)),
    field(`${F}roomsecret`, 'text-private', 'Password', [c.password]),
    field(`${F}whois`, 'list-single', 'Who may discover real JIDs', [c.whois], ['moderators', 'anyone']),
    field(`${F}maxusers`, 'text-single', 'Maximum occupants (0: no limit)', [String(c.maxUsers)]),
    field(`${F}historylength`, 'text-single', `Messages of history (at most ${historyCap})`, [String(c.historyLength)]),
    field(`${F}changesubject`, 'boolean', 'Occupants may change the subject', bool(c.changeSubject)),
    field(`${F}allowpm`, 'list-single', 'Who may send private messages', [c.allowPm], ['anyone', 'participants', 'moderators', 'none']),
    field(`${F}allowinvites`, 'boolean', 'Occupants may invite others', bool(c.allowInvites)),
    field(`${F}enablelogging`, 'boolean', 'Archive messages', bool(c.logging)),
  );
}

/** Values of a submitted XEP-0004 form, by var. */
export function formValues(x: Element): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of x.getChildren('field')) {
    const v = f.attrs.var as string | undefined;
    if (v !== undefined)
      out.set(
        v,
        f.getChildren('value').map((e) => e.text()),
      );
  }
  return out;
}

function parseBool(v: string, name: string): boolean {
  // XEP-0004 §3.3: boolean is '0'/'1'/'false'/'true'.
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw new StanzaError('modify', 'bad-request', `${name} must be a boolean`);
}

function parseCount(v: string, name: string, max: number): number {
  const n = Number(v.trim());
  if (!Number.isInteger(n) || n < 0) throw new StanzaError('modify', 'bad-request', `${name} must be a non-negative integer`);
  return Math.min(n, max);
}

/**
 * §10.2: applies a submitted form to `c` (fields not in the form keep their values, XEP-0004 §3.2). Throws
 * bad-request for a wrong FORM_TYPE or value. historylength is capped by the service (config.muc.historyMessages).
 */
export function applyConfigForm(c: RoomConfig, x: Element, historyCap: number): RoomConfig {
  const values = formValues(x);
  const formType = values.get('FORM_TYPE')?.[0];
  if (formType !== undefined && formType !== MUC.ROOMCONFIG) throw new StanzaError('modify', 'bad-request', 'wrong FORM_TYPE');
  const next: RoomConfig = { ...c };
  for (const [v, vals] of values) {
    if (!v.startsWith(F)) continue;
    const name = v.slice(F.length);
    const value = vals[0] ?? '';
    switch (name) {
      case 'roomname':
        next.name = value;
        break;
      case 'roomdesc':
        next.description = value;
        break;
      case 'persistentroom':
        next.persistent = parseBool(value, v);
        break;
      case 'publicroom':
        next.public = parseBool(value, v);
        break;
      case 'membersonly':
        next.membersOnly = parseBool(value, v);
        break;
      case 'moderatedroom':
        next.moderated = parseBool(value, v);
        break;
      case 'passwordprotectedroom':
        next.passwordProtected = parseBool(value, v);
        break;
      case 'roomsecret':
        next.password = value;
        break;
      case 'whois':
        if (!WHOIS.has(value)) throw new StanzaError('modify', 'bad-request', `${v}: unknown value`);
        next.whois = value as Whois;
        break;
      case 'maxusers':
        next.maxUsers = value === 'none' ? 0 : parseCount(value, v, Number.MAX_SAFE_INTEGER);
        break;
      case 'historylength':
        next.historyLength = parseCount(value, v, historyCap);
        break;
      case 'changesubject':
        next.changeSubject = parseBool(value, v);
        break;
      case 'allowpm':
        if (!ALLOW_PM.has(value)) throw new StanzaError('modify', 'bad-request', `${v}: unknown value`);
        next.allowPm = value as AllowPm;
        break;
      case 'allowinvites':
        next.allowInvites = parseBool(value, v);
        break;
      case 'enablelogging':
        next.logging = parseBool(value, v);
        break;
      default:
        break; // §10.2: fields the service does not know are ignored
    }
  }
  // §10.2 roomsecret: a password-protected room needs a password.
  if (next.passwordProtected && next.password === '')
    throw new StanzaError('modify', 'not-acceptable', 'a password-protected room needs a roomsecret');
  if (!next.passwordProtected) next.password = '';
  return next;
}
