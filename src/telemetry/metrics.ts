// Prometheus metrics. prom-client registries are per thread: each shard owns a Registry, answers
// the control port's `metrics` request with getMetricsAsJSON(), and the primary merges the
// shards' answers with AggregatorRegistry.aggregate() for /metrics (STYLE §3). Names follow
// xmpp_<area>_<what>_<unit>; every series carries `shard` (a default label of the registry).
//
// Metrics are always created with `registers: [registry]`: prom-client's global default
// registry is module state shared by every shard in a thread.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { AggregatorRegistry, Counter, collectDefaultMetrics, Gauge, Histogram, type PrometheusContentType, Registry } from 'prom-client';

/** What Registry.getMetricsAsJSON() returns: plain data, safe to postMessage. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** 10 µs to 1 s: a local route takes microseconds, a mesh hop tens of microseconds (FACTS.md). */
const ROUTE_BUCKETS = [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** 100 µs to 2.5 s: a libSQL batch blocks its thread for 20-100 µs per row (FACTS.md). */
const FLUSH_BUCKETS = [1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * A counter for the per-stanza path: plain numbers per label value, added to a prom-client Counter when
 * it is scraped. `Counter.inc(labels)` hashes the label object on every call, which was ~1.5% of a
 * routed stanza's CPU and a few allocations each (bench/RESULTS.md); `cell(v).n++` is neither.
 */
export class Tally {
  private readonly cells = new Map<string, { n: number }>();
  private readonly label: string;

  constructor(label: string) {
    this.label = label;
  }

  /** The cell for one label value: keep it and increment `n`. */
  cell(value: string): { n: number } {
    let c = this.cells.get(value);
    if (!c) {
      c = { n: 0 };
      this.cells.set(value, c);
    }
    return c;
  }

  flushInto(counter: Counter<string>): void {
    for (const [value, c] of this.cells) {
      if (c.n === 0) continue;
      counter.inc({ [this.label]: value }, c.n);
      c.n = 0;
    }
  }
}

export interface ShardMetrics {
  readonly registry: Registry;
  /** xmpp_c2s_connections{transport=tcp|tls|starttls}: open client connections. */
  connections: Gauge<'transport'>;
  /** xmpp_sessions_bound: bound sessions whose home is this shard. */
  sessions: Gauge;
  /** xmpp_stanzas_in_total{kind=message|presence|iq} */
  stanzasIn: Counter<'kind'>;
  /** xmpp_stanzas_out_total{kind} */
  stanzasOut: Counter<'kind'>;
  /** Per-stanza counts of stanzasIn/stanzasOut by kind, added to them at each scrape (see Tally). */
  stanzasInTally: Tally;
  stanzasOutTally: Tally;
  /** xmpp_stream_errors_total{condition}: RFC 6120 §4.9.3 condition names. */
  streamErrors: Counter<'condition'>;
  /** xmpp_sasl_auth_total{mechanism,result} */
  authAttempts: Counter<'mechanism' | 'result'>;
  /** xmpp_tls_handshakes_total{engine=lean|node,result=ok|failed}: client TLS handshakes. */
  tlsHandshakes: Counter<'engine' | 'result'>;
  /** xmpp_tls_hand_offs_total: lean TLS 1.3 connections whose OpenSSL state was freed after the handshake. */
  tlsHandOffs: Counter;
  /** xmpp_c2s_moves_total{result}: bound connections moved to their home shard (moved|refused|aborted). */
  connectionMoves: Counter<'result'>;
  /** xmpp_mesh_ring_occupancy_bytes{to}: bytes waiting in this shard's outbound ring to `to`. */
  ringOccupancy: Gauge<'to'>;
  /** xmpp_mesh_frames_total{direction=sent|received} */
  ringFrames: Counter<'direction'>;
  /** xmpp_mesh_backpressure_events_total{to}: trySend() found the ring full. */
  backpressure: Counter<'to'>;
  /** xmpp_route_latency_seconds{path=local|mesh} */
  routeLatency: Histogram<'path'>;
  /** xmpp_storage_flush_seconds: synchronous time of one storage batch. */
  storageFlush: Histogram;
  /** Stops the event-loop delay monitor behind xmpp_shard_event_loop_delay_seconds. */
  close(): void;
}

/**
 * A shard's metrics in its own Registry, with default label shard=<n>. Process-wide figures
 * (CPU, RSS) come from the primary only; the two per-thread ones a shard adds are its event
 * loop delay and its V8 heap, which process metrics cannot tell apart per thread.
 */
export function createShardMetrics(shard: number): ShardMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ shard: String(shard) });
  const registers = [registry];
  const stanzasInTally = new Tally('kind');
  const stanzasOutTally = new Tally('kind');

  // Percentiles since the previous scrape; the histogram is reset after each read.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  new Gauge({
    name: 'xmpp_shard_event_loop_delay_seconds',
    help: 'Event loop delay of the shard thread since the previous scrape',
    labelNames: ['stat'],
    registers,
    collect() {
      // An empty histogram reports nonsense percentiles; no samples means no measured delay.
      const seconds = (ns: number): number => (loopDelay.count === 0 ? 0 : ns / 1e9);
      this.set({ stat: 'p50' }, seconds(loopDelay.percentile(50)));
      this.set({ stat: 'p99' }, seconds(loopDelay.percentile(99)));
      this.set({ stat: 'max' }, seconds(loopDelay.max));
      loopDelay.reset();
    },
  });
  new Gauge({
    name: 'xmpp_shard_heap_used_bytes',
    help: 'V8 heap in use by the shard thread',
    registers,
    collect() {
      this.set(getHeapStatistics().used_heap_size);
    },
  });

  return {
    registry,
    connections: new Gauge({ name: 'xmpp_c2s_connections', help: 'Open client connections', labelNames: ['transport'], registers }),
    sessions: new Gauge({ name: 'xmpp_sessions_bound', help: 'Bound sessions whose home is this shard', registers }),
    connectionMoves: new Counter({
      name: 'xmpp_c2s_moves_total',
      help: 'Bound client connections moved from the shard that accepted them to their session home shard, by result',
      labelNames: ['result'],
      registers,
    }),
    tlsHandOffs: new Counter({
      name: 'xmpp_tls_hand_offs_total',
      help: 'Client TLS 1.3 connections whose OpenSSL state was freed after the handshake (lean engine; records protected by its own record layer)',
      registers,
    }),
    tlsHandshakes: new Counter({
      name: 'xmpp_tls_handshakes_total',
      help: 'Client TLS handshakes by engine and result',
      labelNames: ['engine', 'result'],
      registers,
    }),
    stanzasIn: new Counter({
      name: 'xmpp_stanzas_in_total',
      help: 'Stanzas received from clients',
      labelNames: ['kind'],
      registers,
      collect() {
        stanzasInTally.flushInto(this);
      },
    }),
    stanzasOut: new Counter({
      name: 'xmpp_stanzas_out_total',
      help: 'Stanzas sent to clients',
      labelNames: ['kind'],
      registers,
      collect() {
        stanzasOutTally.flushInto(this);
      },
    }),
    stanzasInTally,
    stanzasOutTally,
    streamErrors: new Counter({ name: 'xmpp_stream_errors_total', help: 'Stream errors sent', labelNames: ['condition'], registers }),
    authAttempts: new Counter({
      name: 'xmpp_sasl_auth_total',
      help: 'SASL authentication attempts',
      labelNames: ['mechanism', 'result'],
      registers,
    }),
    ringOccupancy: new Gauge({
      name: 'xmpp_mesh_ring_occupancy_bytes',
      help: 'Bytes waiting in the outbound ring to another shard',
      labelNames: ['to'],
      registers,
    }),
    ringFrames: new Counter({ name: 'xmpp_mesh_frames_total', help: 'Mesh frames', labelNames: ['direction'], registers }),
    backpressure: new Counter({
      name: 'xmpp_mesh_backpressure_events_total',
      help: 'Sends refused because the ring to another shard was full',
      labelNames: ['to'],
      registers,
    }),
    routeLatency: new Histogram({
      name: 'xmpp_route_latency_seconds',
      help: 'Time a routed stanza spent on the ring between two shards (path=mesh; one frame in 8 is timed)',
      labelNames: ['path'],
      buckets: ROUTE_BUCKETS,
      registers,
    }),
    storageFlush: new Histogram({
      name: 'xmpp_storage_flush_seconds',
      help: 'Synchronous time of one storage write batch',
      buckets: FLUSH_BUCKETS,
      registers,
    }),
    close: () => loopDelay.disable(),
  };
}

export interface PrimaryMetrics {
  readonly registry: Registry;
  /** xmpp_worker_restarts_total{worker=<shard number>} */
  workerRestarts: Counter<'worker'>;
}

/** The primary's registry: process metrics (CPU, RSS, main-thread event loop lag) collected once here. */
export function createPrimaryMetrics(): PrimaryMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ shard: 'primary' });
  collectDefaultMetrics({ register: registry });
  const workerRestarts = new Counter({
    name: 'xmpp_worker_restarts_total',
    help: 'Shard worker threads restarted after an unexpected exit',
    labelNames: ['worker'],
    registers: [registry],
  });
  return { registry, workerRestarts };
}

/**
 * Prometheus text for /metrics: the primary's own metrics, then the shards' merged ones.
 * aggregate() sums equal series, but every shard series has its own `shard` label, so none
 * are actually summed. The primary is not passed through aggregate() because some default
 * metrics carry aggregator 'omit' (process_start_time_seconds) and would disappear.
 */
export async function aggregateMetrics(primary: Registry, shardJson: readonly MetricsJson[]): Promise<string> {
  const own = await primary.metrics();
  if (shardJson.length === 0) return own;
  const shards = await AggregatorRegistry.aggregate<PrometheusContentType>([...shardJson]).metrics();
  return own.endsWith('\n') || own === '' ? own + shards : `${own}\n${shards}`;
}
