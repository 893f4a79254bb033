// One user's XEP-0191 block list and its JID matching rules. Plain state: no I/O, no XML.
import { bareOf, fullOf, type Jid, parseJid } from '../../xmpp/jid.ts';

/** Normalises an item the way JIDs are compared (RFC 7622 case folding); throws JidError if malformed. */
export function normalizeItem(text: string): string {
  return fullOf(parseJid(text));
}

export class BlockList {
  private readonly items: Set<string>;

  /** `items` must already be normalised (see normalizeItem). */
  constructor(items: Iterable<string> = []) {
    this.items = new Set(items);
  }

  get size(): number {
    return this.items.size;
  }

  /** Sorted, as the store returns them. */
  list(): string[] {
    return [...this.items].sort();
  }

  /** Adds items; returns those that were not already blocked. */
  add(items: readonly string[]): string[] {
    const added: string[] = [];
    for (const i of items) {
      if (this.items.has(i)) continue;
      this.items.add(i);
      added.push(i);
    }
    return added;
  }

  /** Removes items; returns those that were blocked. */
  remove(items: readonly string[]): string[] {
    return items.filter((i) => this.items.delete(i));
  }

  /** Removes everything; returns what was blocked. */
  clear(): string[] {
    const all = this.list();
    this.items.clear();
    return all;
  }

  /**
   * XEP-0191 "JID Matching" (consistent with XEP-0016 §2.1), in this order:
   *  1. <user@domain/resource> matches only that resource;
   *  2. <user@domain> matches any resource of that user;
   *  3. <domain/resource> matches only that resource of the domain itself;
   *  4. <domain> matches the domain itself, any user@domain, domain/resource, and any subdomain.
   * At most four set lookups plus one per domain label, so it is cheap enough for every stanza.
   */
  matches(jid: Jid): boolean {
    if (this.items.size === 0) return false;
    const bare = bareOf(jid);
    // Rules 1 and 3 (bareOf of a JID without localpart is the domain, giving "domain/resource").
    if (jid.resource && this.items.has(`${bare}/${jid.resource}`)) return true;
    if (jid.local && this.items.has(bare)) return true; // rule 2
    // Rule 4: the domain and each parent domain ("chat.example.org" is covered by "example.org").
    let domain = jid.domain;
    for (;;) {
      if (this.items.has(domain)) return true;
      const dot = domain.indexOf('.');
      if (dot < 0) return false;
      domain = domain.slice(dot + 1);
    }
  }
}
