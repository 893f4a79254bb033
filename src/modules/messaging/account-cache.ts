// A small time-bounded memo of "does this account exist?" so that a burst of messages to an offline
// (or unknown) user costs one store lookup, not one per message. No I/O here: the caller looks up.

export interface AccountCacheOptions {
  /** How long a "yes" is trusted (ms). */
  readonly positiveTtlMs: number;
  /** How long a "no" is trusted (ms); short, so a just-registered account soon receives messages. */
  readonly negativeTtlMs: number;
  /** Entries kept at most; the oldest are forgotten first. */
  readonly maxEntries: number;
}

export class AccountCache {
  private readonly entries = new Map<string, { exists: boolean; until: number }>();
  private readonly o: AccountCacheOptions;

  constructor(o: AccountCacheOptions) {
    this.o = o;
  }

  /** `undefined` when unknown or expired. */
  get(bare: string, now: number): boolean | undefined {
    const e = this.entries.get(bare);
    if (!e) return undefined;
    if (e.until <= now) {
      this.entries.delete(bare);
      return undefined;
    }
    return e.exists;
  }

  set(bare: string, exists: boolean, now: number): void {
    this.entries.delete(bare);
    if (this.entries.size >= this.o.maxEntries) {
      // Map iteration is insertion order: the first key is the oldest entry.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(bare, { exists, until: now + (exists ? this.o.positiveTtlMs : this.o.negativeTtlMs) });
  }

  forget(bare: string): void {
    this.entries.delete(bare);
  }
}
