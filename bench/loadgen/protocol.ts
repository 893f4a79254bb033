// Messages between the benchmark's main thread and its load-generator worker threads. The main
// thread drives the phases (go → warm-up → mark → measured window → stop) so that the server's CPU
// snapshots and the generators' counters cover the same window.
import type { HistogramData } from './histogram.ts';
import type { Mechanism, TransportMode } from './xmpp-login.ts';

export interface GenTarget {
  host: string;
  port: number;
  tlsPort: number;
  domain: string;
}

/** What every scenario's connections have in common. */
export interface ClientParams {
  transport: TransportMode;
  mechanism: Mechanism;
  password: string;
  /** Loopback source addresses to cycle through (more than ~28k connections need several). */
  localAddresses: string[];
  timeoutMs: number;
}

export interface DirectParams extends ClientParams {
  scenario: 'direct';
  /** User indexes of each pair; both users of a pair live in this thread so delivery drives sending. */
  pairs: [number, number][];
  window: number;
  /** Messages per second for this thread in open-loop mode; 0 = closed loop with `window` in flight. */
  ratePerSec: number;
  /** Open loop: most messages one direction may have in flight before sends are skipped (counted). */
  maxOutstanding: number;
  bodyBytes: number;
  connectConcurrency: number;
}

export interface LoginParams extends ClientParams {
  scenario: 'login';
  /** Concurrent handshakes run by this thread. */
  concurrency: number;
  /** User indexes to cycle through. */
  users: number[];
}

/** One room of the `muc` scenario as a generator thread sees it (all its occupants live in that thread). */
export interface MucRoomPlan {
  /** Room bare JID, e.g. `room0@conference.localhost`. */
  jid: string;
  /** User indexes of the occupants; the first joins first and creates (and, if locked, configures) the room. */
  occupants: number[];
  /** User indexes of the occupants that send (a subset of `occupants`). */
  senders: number[];
}

export interface MucParams extends ClientParams {
  scenario: 'muc';
  rooms: MucRoomPlan[];
  /**
   * How a creator unlocks a new room: 'instant' submits the empty form (XEP-0045 §10.1.2); 'no-logging' submits
   * only muc#roomconfig_enablelogging = 0 (§10.1.3), for servers whose rooms archive by default.
   */
  roomConfig: 'instant' | 'no-logging';
  /** Closed loop: messages per sender whose reflection is still awaited. */
  window: number;
  /** Messages per second for this thread in open-loop mode; 0 = closed loop with `window` in flight. */
  ratePerSec: number;
  /** Open loop: most messages a sender may have awaiting their reflection before sends are skipped (counted). */
  maxOutstanding: number;
  bodyBytes: number;
  connectConcurrency: number;
}

export type ScenarioParams = DirectParams | LoginParams | MucParams;

export interface WorkerInit {
  index: number;
  target: GenTarget;
  params: ScenarioParams;
}

/** Counters of one generator thread over the measured window (plus totals for loss accounting). */
export interface WorkerReport {
  /** Completed operations in the window: delivered messages, or finished logins. */
  ops: number;
  /** Messages sent or logins started in the window. */
  attempts: number;
  /** Bounced messages (type='error') or failed logins in the window. */
  errors: number;
  /** Messages sent at any time and never delivered, after the grace period. */
  lost: number;
  /** Open loop: sends skipped because a direction had maxOutstanding in flight. */
  skipped: number;
  /** Connections that closed while they should have stayed open. */
  disconnects: number;
  latency: HistogramData;
  /** Open loop only: how late sends were against their schedule, µs. */
  sendLag: HistogramData | null;
  firstError: string | null;
}

export interface ReadyInfo {
  connections: number;
  failed: number;
  firstError: string | null;
}

export type ToWorker = { type: 'go' } | { type: 'mark' } | { type: 'stop'; graceMs: number } | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; info: ReadyInfo }
  | { type: 'report'; report: WorkerReport }
  | { type: 'fatal'; message: string }
  | { type: 'closed' };

/** What a scenario runs inside a generator thread. */
export interface Driver {
  setup(): Promise<ReadyInfo>;
  go(): void;
  mark(): void;
  stop(graceMs: number): Promise<WorkerReport>;
  close(): Promise<void>;
}
