import { register as globalRegistry } from 'prom-client';
import t from 'tap';
import { aggregateMetrics, createPrimaryMetrics, createShardMetrics } from '../../../src/telemetry/metrics.ts';

/** Sample lines (no # HELP/# TYPE) of a Prometheus text exposition. */
const samples = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

t.test('shard metrics: names, labels and the shard default label', async (t) => {
  const m = createShardMetrics(4);
  t.teardown(() => m.close());
  m.connections.inc({ transport: 'starttls' });
  m.sessions.set(2);
  m.stanzasIn.inc({ kind: 'message' }, 3);
  m.stanzasOut.inc({ kind: 'presence' });
  m.streamErrors.inc({ condition: 'policy-violation' });
  m.authAttempts.inc({ mechanism: 'SCRAM-SHA-256', result: 'success' });
  m.ringOccupancy.set({ to: '1' }, 4096);
  m.ringFrames.inc({ direction: 'sent' });
  m.backpressure.inc({ to: '1' });
  m.routeLatency.observe({ path: 'mesh' }, 3e-5);
  m.storageFlush.observe(0.002);
  const text = samples(await m.registry.metrics());
  for (const line of [
    'xmpp_c2s_connections{transport="starttls",shard="4"} 1',
    'xmpp_sessions_bound{shard="4"} 2',
    'xmpp_stanzas_in_total{kind="message",shard="4"} 3',
    'xmpp_stanzas_out_total{kind="presence",shard="4"} 1',
    'xmpp_stream_errors_total{condition="policy-violation",shard="4"} 1',
    'xmpp_sasl_auth_total{mechanism="SCRAM-SHA-256",result="success",shard="4"} 1',
    'xmpp_mesh_ring_occupancy_bytes{to="1",shard="4"} 4096',
    'xmpp_mesh_frames_total{direction="sent",shard="4"} 1',
    'xmpp_mesh_backpressure_events_total{to="1",shard="4"} 1',
    'xmpp_route_latency_seconds_bucket{le="0.00001",shard="4",path="mesh"} 0',
    'xmpp_route_latency_seconds_bucket{le="0.00005",shard="4",path="mesh"} 1',
    'xmpp_route_latency_seconds_bucket{le="1",shard="4",path="mesh"} 1',
    'xmpp_storage_flush_seconds_count{shard="4"} 1',
  ]) {
    t.ok(text.includes(line), line);
  }
  t.ok(
    text.some((l) => l.startsWith('xmpp_shard_event_loop_delay_seconds{stat="p99",shard="4"}')),
    'per-thread loop delay',
  );
  t.ok(
    text.some((l) => /^xmpp_shard_heap_used_bytes\{shard="4"\} [1-9]/.test(l)),
    'per-thread heap',
  );
  t.notOk(
    text.some((l) => l.startsWith('process_')),
    'no process metrics in a shard',
  );
});

t.test('several shards in one thread; the global registry stays untouched', async (t) => {
  const a = createShardMetrics(0);
  const b = createShardMetrics(1);
  t.teardown(() => {
    a.close();
    b.close();
  });
  a.sessions.set(5);
  t.equal((await b.registry.getSingleMetric('xmpp_sessions_bound')?.get())?.values[0]?.value, 0);
  t.same(await globalRegistry.getMetricsAsJSON(), []);
});

t.test('the primary merges shard JSON (sent over postMessage) with its own metrics', async (t) => {
  const primary = createPrimaryMetrics();
  primary.workerRestarts.inc({ worker: '1' });
  const shards = [createShardMetrics(0), createShardMetrics(1)];
  t.teardown(() => {
    for (const s of shards) s.close();
  });
  shards[0]?.stanzasIn.inc({ kind: 'iq' }, 2);
  shards[1]?.stanzasIn.inc({ kind: 'iq' }, 5);
  shards[1]?.routeLatency.observe({ path: 'local' }, 0.001);
  // The control port carries the JSON by structured clone; it must survive it.
  const json = await Promise.all(shards.map(async (s) => structuredClone(await s.registry.getMetricsAsJSON())));
  const text = await aggregateMetrics(primary.registry, json);
  const lines = samples(text);
  t.ok(lines.includes('xmpp_stanzas_in_total{kind="iq",shard="0"} 2'), 'shard 0 series kept');
  t.ok(lines.includes('xmpp_stanzas_in_total{kind="iq",shard="1"} 5'), 'shard 1 series kept');
  t.ok(lines.includes('xmpp_route_latency_seconds_count{path="local",shard="1"} 1'));
  t.ok(lines.includes('xmpp_worker_restarts_total{worker="1",shard="primary"} 1'));
  t.ok(
    lines.some((l) => l.startsWith('process_resident_memory_bytes{shard="primary"}')),
    'process RSS',
  );
  t.ok(
    lines.some((l) => l.startsWith('process_start_time_seconds{shard="primary"}')),
    'not dropped by aggregation',
  );
  t.ok(
    lines.some((l) => l.startsWith('nodejs_eventloop_lag_seconds{shard="primary"}')),
    'main-thread loop lag',
  );
  t.equal(text.match(/^# TYPE xmpp_stanzas_in_total /gm)?.length, 1, 'one family per metric name');
  t.equal(samples(await aggregateMetrics(primary.registry, [])).length, samples(await primary.registry.metrics()).length);
});

t.test('per-stanza tallies reach the counters at each scrape, once', async (t) => {
  const m = createShardMetrics(2);
  t.teardown(() => m.close());
  const messages = m.stanzasInTally.cell('message');
  messages.n += 5;
  m.stanzasOutTally.cell('iq').n++;
  m.stanzasIn.inc({ kind: 'message' }, 2); // direct increments still add up with the tally
  const first = samples(await m.registry.metrics());
  t.ok(first.includes('xmpp_stanzas_in_total{kind="message",shard="2"} 7'), first.join('\n'));
  t.ok(first.includes('xmpp_stanzas_out_total{kind="iq",shard="2"} 1'));
  t.equal(messages.n, 0, 'the scrape took the pending count');
  t.equal(m.stanzasInTally.cell('message'), messages, 'one cell per label value');
  messages.n++;
  const second = samples(await m.registry.metrics());
  t.ok(second.includes('xmpp_stanzas_in_total{kind="message",shard="2"} 8'), 'counted once, then the new one');
  t.ok(second.includes('xmpp_stanzas_out_total{kind="iq",shard="2"} 1'));
});
