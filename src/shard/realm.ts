// Where group chat state lives, derived from an address alone (no lookup), so that a room, its archive and
// its Waddle's file all hash to the same shard and are found again after the worker count changes.
//
//   <channel>@<waddle>.groups.<domain>   a channel of Waddle <waddle>: key `<waddle>.groups.<domain>`,
//                                        file <data>/waddles/<waddle>.db (every channel of a Waddle together,
//                                        so permission checks across a Waddle's channels stay on one shard)
//   <waddle>.groups.<domain>             the Waddle itself (its service address): same key and file
//   <room>@conference.<domain>           an ad-hoc room: key = the room's bare JID, file
//                                        <data>/rooms/group-NN.db (its slot group, like users)
import { join } from 'node:path';
import type { Placement } from './placement.ts';

/** A Waddle id is one DNS label (it is part of a domain name): lowercase letters, digits, inner hyphens. */
const WADDLE_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type Realm =
  | { readonly kind: 'waddle'; readonly waddle: string; readonly key: string }
  | { readonly kind: 'conference'; readonly key: string };

export function isWaddleId(id: string): boolean {
  return WADDLE_ID.test(id);
}

export function conferenceDomain(domain: string): string {
  return `conference.${domain}`;
}

export function waddleDomain(waddle: string, domain: string): string {
  return `${waddle}.groups.${domain}`;
}

/** The Waddle id of a `<waddle>.groups.<domain>` domain, or undefined. */
export function waddleOfDomain(jidDomain: string, domain: string): string | undefined {
  const suffix = `.groups.${domain}`;
  if (!jidDomain.endsWith(suffix)) return undefined;
  const id = jidDomain.slice(0, -suffix.length);
  return isWaddleId(id) ? id : undefined;
}

/**
 * The realm of a group chat address (`local` may be '' for a service address). Undefined for addresses
 * that are not group chat (or a bare conference service domain, which has no state of its own).
 */
export function realmOf(local: string, jidDomain: string, domain: string): Realm | undefined {
  const waddle = waddleOfDomain(jidDomain, domain);
  if (waddle !== undefined) return { kind: 'waddle', waddle, key: waddleDomain(waddle, domain) };
  if (jidDomain === conferenceDomain(domain) && local !== '') return { kind: 'conference', key: `${local}@${jidDomain}` };
  return undefined;
}

/** The realm of a storage key: a room's bare JID or a Waddle id / Waddle domain. */
export function realmOfKey(key: string, domain: string): Realm | undefined {
  if (isWaddleId(key)) return { kind: 'waddle', waddle: key, key: waddleDomain(key, domain) };
  const at = key.indexOf('@');
  return at === -1 ? realmOf('', key, domain) : realmOf(key.slice(0, at), key.slice(at + 1), domain);
}

/** The file of a Waddle (its channels, archives and permission tuples). */
export function waddleDbPath(dataDir: string, waddle: string): string {
  return join(dataDir, 'waddles', `${waddle}.db`);
}

/** The file holding a realm's state. */
export function realmDbPath(dataDir: string, realm: Realm, placement: Placement): string {
  if (realm.kind === 'waddle') return waddleDbPath(dataDir, realm.waddle);
  return join(dataDir, 'rooms', `group-${String(placement.groupOf(realm.key)).padStart(2, '0')}.db`);
}

/** The shard owning a realm: the same function of the key as for users. */
export function shardOfRealm(realm: Realm, placement: Placement): number {
  return placement.shardOf(realm.key);
}
