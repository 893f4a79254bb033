// Metrics of the muc module, on the shard's registry (src/telemetry/metrics.ts naming: xmpp_<area>_<what>_<unit>).
import { Counter, Gauge, Histogram } from 'prom-client';
import type { ModuleContext } from '../../router/module.ts';

export interface MucMetrics {
  /** xmpp_muc_rooms: rooms in memory on this shard. */
  rooms: Gauge;
  /** xmpp_muc_occupants: occupants (nicks) in rooms of this shard. */
  occupants: Gauge;
  /** xmpp_muc_fanout_copies_total: stanza copies sent by rooms. */
  copies: Counter;
  /** xmpp_muc_fanout_recipients: recipients per fan-out. */
  fanoutSize: Histogram;
}

export function createMucMetrics(ctx: ModuleContext): MucMetrics {
  const registers = [ctx.metrics.registry];
  // A second module instance on the same registry (tests that rebuild a shard) reuses the series.
  const existing = <T>(name: string): T | undefined => ctx.metrics.registry.getSingleMetric(name) as T | undefined;
  return {
    rooms:
      existing<Gauge>('xmpp_muc_rooms') ??
      new Gauge({ name: 'xmpp_muc_rooms', help: 'Group chat rooms in memory on this shard', registers }),
    occupants:
      existing<Gauge>('xmpp_muc_occupants') ??
      new Gauge({ name: 'xmpp_muc_occupants', help: 'Occupants of the rooms of this shard', registers }),
    copies:
      existing<Counter>('xmpp_muc_fanout_copies_total') ??
      new Counter({ name: 'xmpp_muc_fanout_copies_total', help: 'Stanza copies sent by rooms to occupants', registers }),
    fanoutSize:
      existing<Histogram>('xmpp_muc_fanout_recipients') ??
      new Histogram({
        name: 'xmpp_muc_fanout_recipients',
        help: 'Recipients of one room fan-out',
        buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
        registers,
      }),
  };
}
