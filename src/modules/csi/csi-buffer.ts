// The stanzas held back for one inactive session (XEP-0352), in arrival order. Availability presence is
// kept only in its latest version per sender full JID: an inactive client needs the current state of
// each contact, not every change (XEP-0352 §3.2: "on becoming active, push the latest presence from
// each contact"; Prosody's mod_csi_simple and ejabberd's mod_client_state do the same).
import type { Element } from '../../xmpp/xml.ts';

export class CsiBuffer {
  /** Map iteration is insertion order, so deleting and re-inserting moves a key to the end. */
  private readonly held = new Map<string, Element>();
  private readonly capacity: number;
  private seq = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.held.size;
  }

  /** Holds `stanza`; returns true when the buffer is now full and should be flushed. */
  push(stanza: Element): boolean {
    const key = supersedableKey(stanza) ?? `#${this.seq++}`;
    // A newer presence from the same sender replaces the older one and takes its place at the end;
    // stanzas from different senders keep their relative order.
    this.held.delete(key);
    this.held.set(key, stanza);
    return this.held.size >= this.capacity;
  }

  /** Everything held, oldest first; the buffer is empty afterwards. */
  drain(): Element[] {
    const out = [...this.held.values()];
    this.held.clear();
    return out;
  }
}

/** Plain availability presence (no type, or unavailable) is superseded by the sender's next one. */
function supersedableKey(stanza: Element): string | undefined {
  if (stanza.name !== 'presence') return undefined;
  const type = stanza.attrs.type as string | undefined;
  if (type !== undefined && type !== 'unavailable') return undefined;
  const from = stanza.attrs.from as string | undefined;
  return from === undefined ? undefined : `p ${from}`;
}
