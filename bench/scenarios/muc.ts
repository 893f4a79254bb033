// `muc`: XEP-0045 group chat. R rooms on conference.<domain> with M occupants each (users u<r·M> …
// u<r·M+M-1>); S of each room's occupants send groupchat messages, which the room reflects to all M
// occupants (the sender included, §7.4). Closed loop: each sender keeps W messages whose reflection it
// has not seen; open loop (--rate N): N messages per second in total over all senders. Measures
// delivered stanzas per second (one message counts M), latency from send to each delivery, missing
// deliveries, and the server's CPU per delivered stanza. Rooms are created by their first joiner.
import type { ClientParams, MucParams, MucRoomPlan } from '../loadgen/protocol.ts';

export interface MucOptions {
  rooms: number;
  occupants: number;
  senders: number;
  window: number;
  /** Messages per second in total; 0 = closed loop. */
  rate: number;
  bodyBytes: number;
}

/** How new rooms are unlocked (see MucParams.roomConfig). */
export type RoomConfigMode = MucParams['roomConfig'];

/** The MUC service every target hosts for the bench domain. */
export function mucService(domain: string): string {
  return `conference.${domain}`;
}

export function mucUsers(o: MucOptions): number {
  return o.rooms * o.occupants;
}

export function validateMuc(o: MucOptions): void {
  if (o.senders > o.occupants) throw new Error(`--senders (${o.senders}) cannot exceed --occupants (${o.occupants})`);
}

/** Room r holds users r·M … r·M+M-1; its first S occupants send (the first one also creates the room). */
export function roomsOf(o: MucOptions, domain: string): MucRoomPlan[] {
  return Array.from({ length: o.rooms }, (_, r) => {
    const occupants = Array.from({ length: o.occupants }, (_, k) => r * o.occupants + k);
    return { jid: `room${r}@${mucService(domain)}`, occupants, senders: occupants.slice(0, o.senders) };
  });
}

/** Deliveries one message makes: every occupant, the sender's own reflection included. */
export function fanoutOf(o: MucOptions): number {
  return o.occupants;
}

/** Splits the rooms over `threads` generator threads; a room's occupants stay in one thread (stamps are per thread). */
export function mucShares(
  o: MucOptions,
  client: ClientParams,
  threads: number,
  domain: string,
  roomConfig: RoomConfigMode = 'instant',
): MucParams[] {
  const rooms = roomsOf(o, domain);
  const n = Math.max(1, Math.min(threads, rooms.length));
  const totalSenders = rooms.length * o.senders;
  return Array.from({ length: n }, (_, t) => {
    const mine = rooms.filter((_, i) => i % n === t);
    const senders = mine.length * o.senders;
    return {
      ...client,
      scenario: 'muc',
      rooms: mine,
      roomConfig,
      window: o.window,
      ratePerSec: o.rate > 0 ? (o.rate * senders) / totalSenders : 0,
      maxOutstanding: Math.max(64, o.window),
      bodyBytes: o.bodyBytes,
      connectConcurrency: 32,
    };
  });
}
