// XEP-0045 room state: occupants, roles, affiliations, subject, configuration. No I/O: the module's
// handlers read and change it under the room's serial queue, then send and store.
import type { Element } from '../../xmpp/xml.ts';
import type { RoomConfig } from './config-form.ts';

export type Role = 'moderator' | 'participant' | 'visitor' | 'none';
export type Affiliation = 'owner' | 'admin' | 'member' | 'outcast' | 'none';

/** §5.2 affiliations ranked for the "higher affiliation" rules of §8.2 and §9.1. */
export const AFFILIATION_RANK: Readonly<Record<Affiliation, number>> = { outcast: -1, none: 0, member: 1, admin: 2, owner: 3 };
export const ROLE_RANK: Readonly<Record<Role, number>> = { none: 0, visitor: 1, participant: 2, moderator: 3 };

export interface AffiliationEntry {
  affiliation: Exclude<Affiliation, 'none'>;
  nick: string;
  reason: string;
}

/** One occupant: a nick held by one real bare JID, possibly from several of its resources (multi-session). */
export interface Occupant {
  nick: string;
  /** Real bare JID. */
  bare: string;
  role: Role;
  /** Real full JIDs of the joined resources → the presence each last sent (addresses stripped). */
  sessions: Map<string, Element>;
  /** The resource whose presence the room shows (the latest to send one). */
  current: string;
}

export interface Subject {
  text: string;
  /** Nick of who set it ('' = the room itself). */
  by: string;
  at: number;
}

/** Where a room lives: an ad-hoc conference room, or channel `channel` of Waddle `waddle`. */
export type RoomKind = { kind: 'conference' } | { kind: 'channel'; waddle: string; channel: string };

export class Room {
  readonly jid: string;
  readonly kind: RoomKind;
  config: RoomConfig;
  subject: Subject = { text: '', by: '', at: 0 };
  /** Per-room secret keying XEP-0421 occupant ids. */
  readonly secret: string;
  readonly createdAt: number;
  /** §10.1.1: a new room stays locked (no one else may enter) until its owner configures it. */
  locked = false;
  /** False when the server archives nothing ([archive] enabled = false): the room then keeps history in memory. */
  archiveAvailable = true;
  readonly affiliations = new Map<string, AffiliationEntry>();
  readonly occupants = new Map<string, Occupant>();
  /** Real full JID → nick. */
  readonly byReal = new Map<string, string>();
  /** In-memory history for rooms that do not log (newest last), at most config.historyLength. */
  readonly recent: { xml: Element; at: number; from: string }[] = [];

  /** Messages go to the room archive: the room asks for it (muc#roomconfig_enablelogging) and the server archives. */
  get logs(): boolean {
    return this.archiveAvailable && this.config.logging;
  }

  constructor(jid: string, kind: RoomKind, config: RoomConfig, secret: string, createdAt: number) {
    this.jid = jid;
    this.kind = kind;
    this.config = config;
    this.secret = secret;
    this.createdAt = createdAt;
  }

  affiliationOf(bare: string): Affiliation {
    const a = this.affiliations.get(bare)?.affiliation;
    if (a) return a;
    // §9.1: a ban may name a whole server.
    const at = bare.indexOf('@');
    if (at !== -1 && this.affiliations.get(bare.slice(at + 1))?.affiliation === 'outcast') return 'outcast';
    return 'none';
  }

  setAffiliation(jid: string, affiliation: Affiliation, nick = '', reason = ''): void {
    if (affiliation === 'none') this.affiliations.delete(jid);
    else this.affiliations.set(jid, { affiliation, nick, reason });
  }

  /** §5.1.2 default role for an affiliation when entering the room. */
  defaultRole(affiliation: Affiliation): Role {
    if (affiliation === 'owner' || affiliation === 'admin') return 'moderator';
    if (affiliation === 'outcast') return 'none';
    if (affiliation === 'member') return 'participant';
    return this.config.moderated ? 'visitor' : 'participant';
  }

  occupantOfReal(full: string): Occupant | undefined {
    const nick = this.byReal.get(full);
    return nick === undefined ? undefined : this.occupants.get(nick);
  }

  /** Occupants of one real bare JID (several if it joined with different nicks). */
  occupantsOfBare(bare: string): Occupant[] {
    return [...this.occupants.values()].filter((o) => o.bare === bare);
  }

  /** §9.5: the bare JID that reserved `nick` as a member's nick, if any. */
  nickOwner(nick: string): string | undefined {
    for (const [jid, e] of this.affiliations) if (e.nick !== '' && e.nick === nick) return jid;
    return undefined;
  }

  addSession(nick: string, bare: string, full: string, role: Role, presence: Element): Occupant {
    let o = this.occupants.get(nick);
    if (!o) {
      o = { nick, bare, role, sessions: new Map(), current: full };
      this.occupants.set(nick, o);
    }
    o.sessions.set(full, presence);
    o.current = full;
    this.byReal.set(full, nick);
    return o;
  }

  /** Removes one resource; true when that was the occupant's last one (the occupant left). */
  removeSession(full: string): boolean {
    const o = this.occupantOfReal(full);
    this.byReal.delete(full);
    if (!o) return false;
    o.sessions.delete(full);
    if (o.sessions.size > 0) {
      if (o.current === full) o.current = [...o.sessions.keys()].at(-1) ?? full;
      return false;
    }
    this.occupants.delete(o.nick);
    return true;
  }

  removeOccupant(o: Occupant): void {
    for (const full of o.sessions.keys()) this.byReal.delete(full);
    this.occupants.delete(o.nick);
  }

  renameOccupant(o: Occupant, nick: string): void {
    this.occupants.delete(o.nick);
    o.nick = nick;
    this.occupants.set(nick, o);
    for (const full of o.sessions.keys()) this.byReal.set(full, nick);
  }

  /** Every real full JID in the room (fan-out recipients). */
  allReal(): string[] {
    return [...this.byReal.keys()];
  }

  /** Real full JIDs split by whether they may see real JIDs (§7.2.3: moderators in semi-anonymous rooms). */
  realSplitByWhois(): { seeJids: string[]; others: string[] } {
    const seeJids: string[] = [];
    const others: string[] = [];
    for (const o of this.occupants.values()) {
      const list = this.config.whois === 'anyone' || o.role === 'moderator' ? seeJids : others;
      for (const full of o.sessions.keys()) list.push(full);
    }
    return { seeJids, others };
  }

  countOccupants(): number {
    return this.occupants.size;
  }

  rememberRecent(entry: { xml: Element; at: number; from: string }): void {
    this.recent.push(entry);
    while (this.recent.length > this.config.historyLength) this.recent.shift();
  }

  /** True if the room has no one left and may be dropped from memory (persistent rooms reload from the store). */
  get empty(): boolean {
    return this.occupants.size === 0;
  }
}
