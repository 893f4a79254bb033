// Per-shard memo of users' archiving preferences (XEP-0441): consulted for every archivable message, changed
// only through this module's iq handler on the user's home shard (this shard), so the memo never goes stale.
import type { MamPrefs, ModuleContext } from '../../router/module.ts';
import { shouldArchive } from './prefs.ts';

type MamPrefsStore = ModuleContext['stores']['mamPrefs'];
type RosterStore = ModuleContext['stores']['roster'];

export class PrefsCache {
  readonly #store: MamPrefsStore;
  readonly #roster: RosterStore;
  readonly #defaults: MamPrefs;
  readonly #max: number;
  readonly #entries = new Map<string, MamPrefs>();

  constructor(store: MamPrefsStore, roster: RosterStore, defaultPolicy: MamPrefs['default'], maxEntries = 10_000) {
    this.#store = store;
    this.#roster = roster;
    this.#defaults = { default: defaultPolicy, always: [], never: [] };
    this.#max = maxEntries;
  }

  /** The user's preferences, or the server default (ctx.config.archive.defaultPolicy) when never set. */
  get(owner: string): MamPrefs | Promise<MamPrefs> {
    const hit = this.#entries.get(owner);
    if (hit !== undefined) return hit;
    return this.#store.get(owner).then((p) => {
      const prefs = p ?? this.#defaults;
      this.#remember(owner, prefs);
      return prefs;
    });
  }

  async set(owner: string, prefs: MamPrefs): Promise<void> {
    await this.#store.set(owner, prefs);
    this.#remember(owner, prefs);
  }

  /** Whether a message between `owner` and `contact` (bare JIDs) goes into the owner's archive. */
  allows(owner: string, contact: string): boolean | Promise<boolean> {
    // 'roster' (XEP-0441 §3): "messages to/from contacts in the user's roster". The user's own account is not a
    // roster item, but notes to self are the user's own messages: always in.
    const inRoster = (c: string) => c === owner || this.#roster.get(owner, c).then((item) => item !== undefined);
    const prefs = this.get(owner);
    if (prefs instanceof Promise) return prefs.then((p) => shouldArchive(p, contact, inRoster));
    return shouldArchive(prefs, contact, inRoster);
  }

  #remember(owner: string, prefs: MamPrefs): void {
    this.#entries.delete(owner);
    if (this.#entries.size >= this.#max) {
      // Map iteration is insertion order: forget the least recently loaded.
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(owner, prefs);
  }
}
