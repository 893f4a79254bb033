// XEP-0198 per-session state: the two counters and the queue of stanzas not yet acknowledged.
// Plain data with no I/O, so the counting rules are testable on their own.
import type { Element } from '../../xmpp/xml.ts';

/** XEP-0198 §4: sequence numbers are unsigned 32-bit and wrap around. */
const WRAP = 2 ** 32;

export interface Unacked {
  seq: number;
  stanza: Element;
}

export class SmState {
  readonly id: string;
  readonly resumable: boolean;
  /** Stanzas received from the client and handled (the 'h' we report). */
  inbound = 0;
  /** Stanzas sent to the client (the sequence number of the last one). */
  outbound = 0;
  /** The client's last acknowledged count. */
  acked = 0;
  readonly unacked: Unacked[] = [];
  /** Set while unacknowledged stanzas are written again after a resumption (they are not new). */
  replaying = false;
  /** An <r/> is outstanding; no need to ask again until it is answered. */
  requested = false;
  timer: NodeJS.Timeout | undefined;

  constructor(id: string, resumable: boolean) {
    this.id = id;
    this.resumable = resumable;
  }

  countInbound(): void {
    this.inbound = (this.inbound + 1) % WRAP;
  }

  /** Records a stanza written to the client. */
  sent(stanza: Element): void {
    this.outbound = (this.outbound + 1) % WRAP;
    this.unacked.push({ seq: this.outbound, stanza });
  }

  /**
   * Applies the client's `h` (XEP-0198 §4): drops what it acknowledged. Returns false if `h`
   * acknowledges stanzas never sent (a protocol error the caller reports).
   */
  ack(h: number): boolean {
    if (!Number.isInteger(h) || h < 0 || h >= WRAP) return false;
    const pending = (this.outbound - this.acked + WRAP) % WRAP;
    const newlyAcked = (h - this.acked + WRAP) % WRAP;
    if (newlyAcked > pending) return false;
    this.unacked.splice(0, newlyAcked);
    this.acked = h;
    this.requested = false;
    return true;
  }
}
