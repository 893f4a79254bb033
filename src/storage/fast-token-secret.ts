// XEP-0484 token generation and argument checks shared by FastTokenRepo and the in-memory store, kept apart
// from fast-token-repo.ts so the memory store does not load libSQL.
import { randomBytes } from 'node:crypto';

/**
 * A new token: 256 bits from the CSPRNG (draft-schmaus-kitten-sasl-ht-08 §5: at least 128 bits), as an
 * RFC 8959 secret-token URI so secret scanners recognise a leaked one (Prosody uses the same prefix).
 */
export function newFastTokenSecret(): string {
  return `secret-token:fast-${randomBytes(32).toString('base64url')}`;
}

/** A token must expire, and later than now. */
export function checkFastTokenTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`invalid FAST token ttl ${ttlMs}`);
}
