// Who may change whose affiliation, after XEP-0045 §9 (admin use cases) and §10 (owner use cases), applied
// to a Waddle and to each of its channels. Pure functions: the service looks the affiliations up first.
import type { Tuple } from '../storage/ports-waddles.ts';
import { type Affiliation, PermissionDenied } from './model.ts';

/** Order used to pick one affiliation out of several stored relations: an owner is never an outcast. */
const PRECEDENCE: readonly Affiliation[] = ['owner', 'outcast', 'admin', 'member'];

/** The one affiliation a set of stored affiliation relations amounts to. */
export function strongest(affiliations: Iterable<Affiliation>): Affiliation {
  const have = new Set(affiliations);
  return PRECEDENCE.find((a) => have.has(a)) ?? 'none';
}

export interface AffiliationChange {
  /** The actor's effective affiliation at this level, or 'operator' (all rights). */
  actor: Affiliation | 'operator';
  /** The target's effective affiliation at this level before the change. */
  target: Affiliation;
  next: Affiliation;
}

/** Throws PermissionDenied unless the change is allowed. */
export function authorizeAffiliationChange(c: AffiliationChange): void {
  if (c.actor === 'operator' || c.actor === 'owner') return; // §10: owners may grant and revoke any affiliation
  if (c.actor !== 'admin') throw new PermissionDenied('only owners and admins may change affiliations');
  // §9.1 (ban), §9.3-§9.4 (membership): an admin may not touch an owner or another admin: not-allowed.
  if (c.target === 'owner' || c.target === 'admin') {
    throw new PermissionDenied(`an admin may not change the affiliation of an ${c.target}`, 'not-allowed');
  }
  // §10.3-§10.8: granting or revoking owner and admin status is for owners.
  if (c.next === 'owner' || c.next === 'admin') throw new PermissionDenied(`only owners may grant ${c.next} status`);
}

/**
 * Extra rules for a channel: Waddle owners are channel owners and cannot be banned from one; the Waddle's
 * owners and admins (the Waddle's staff) can be changed at channel level only by a Waddle owner.
 */
export function authorizeChannelChange(
  c: AffiliationChange & { actorInWaddle: Affiliation | 'operator'; targetInWaddle: Affiliation },
): void {
  authorizeAffiliationChange(c);
  if (c.targetInWaddle === 'owner' && c.next === 'outcast') {
    throw new PermissionDenied('an owner of the Waddle cannot be banned from its channels', 'not-allowed');
  }
  const staff = c.targetInWaddle === 'owner' || c.targetInWaddle === 'admin';
  if (staff && c.actorInWaddle !== 'owner' && c.actorInWaddle !== 'operator') {
    throw new PermissionDenied(`only an owner of the Waddle may change a Waddle ${c.targetInWaddle} in a channel`, 'not-allowed');
  }
}

const AFFILIATION_OF: Readonly<Record<string, Affiliation>> = { owner: 'owner', admin: 'admin', member: 'member', banned: 'outcast' };

/** user → the affiliation its direct tuples amount to. */
export function directAffiliations(tuples: readonly Tuple[]): Map<string, Affiliation> {
  const byUser = new Map<string, Affiliation[]>();
  for (const t of tuples) {
    const affiliation = AFFILIATION_OF[t.relation];
    if (affiliation === undefined || !t.subject.startsWith('user:')) continue;
    const user = t.subject.slice(5);
    byUser.set(user, [...(byUser.get(user) ?? []), affiliation]);
  }
  return new Map([...byUser].map(([user, list]) => [user, strongest(list)]));
}
