import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { api } from '@opentelemetry/sdk-node';
import t, { type Test } from 'tap';
import { getTracer, startTracing, tracesUrl } from '../../../src/telemetry/tracing.ts';

interface Received {
  method: string | undefined;
  url: string | undefined;
  type: string | undefined;
  body: string;
}

/** A stand-in OTLP/HTTP collector on 127.0.0.1:0 that records every request and connection. */
async function fakeCollector(t: Test): Promise<{ endpoint: string; requests: Received[]; connections: () => number }> {
  const requests: Received[] = [];
  let connections = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, type: req.headers['content-type'], body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, requests, connections: () => connections };
}

t.test('the traces URL is the base endpoint plus /v1/traces', (t) => {
  t.equal(tracesUrl('http://c:4318'), 'http://c:4318/v1/traces');
  t.equal(tracesUrl('http://c:4318/otlp/'), 'http://c:4318/otlp/v1/traces');
  t.end();
});

t.test('without an endpoint: real span ids, no connection at all', async (t) => {
  // Even with the standard variable pointing at a collector, otlpEndpoint null must not export
  // (NodeSDK would otherwise start OTLP exporters for traces, metrics and logs from env defaults).
  const collector = await fakeCollector(t);
  const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.endpoint;
  t.teardown(() => {
    if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
  });

  const tracing = startTracing({ serviceName: 'waddle-test', otlpEndpoint: null, thread: 'primary' });
  const span = getTracer().startSpan('xmpp.route');
  t.ok(span.isRecording(), 'a tracer provider is registered');
  t.match(span.spanContext().traceId, /^(?!0{32})[0-9a-f]{32}$/, 'valid trace id');
  span.end();
  // Some metric data too, which an OTLP metric exporter started from env defaults would send.
  api.metrics.getMeter('test').createCounter('test_counter').add(1);
  await tracing.shutdown();
  await new Promise((r) => setTimeout(r, 50));
  t.equal(collector.connections(), 0);
  t.same(collector.requests, []);
});

t.test('with an endpoint: an ended span is POSTed to /v1/traces by shutdown', async (t) => {
  const collector = await fakeCollector(t);
  const tracing = startTracing({ serviceName: 'waddle-test', otlpEndpoint: collector.endpoint, thread: 'shard-3' });
  const span = getTracer().startSpan('sasl.auth', { attributes: { 'sasl.mechanism': 'PLAIN' } });
  span.end();
  await tracing.shutdown();

  t.equal(collector.requests.length, 1);
  const [req] = collector.requests;
  t.match(req, { method: 'POST', url: '/v1/traces', type: 'application/json' });
  const body = JSON.parse(req?.body ?? '{}') as {
    resourceSpans: {
      resource: { attributes: { key: string; value: { stringValue?: string } }[] };
      scopeSpans: { scope: { name: string }; spans: { name: string }[] }[];
    }[];
  };
  const rs = body.resourceSpans[0];
  const attr = (k: string): string | undefined => rs?.resource.attributes.find((a) => a.key === k)?.value.stringValue;
  t.equal(attr('service.name'), 'waddle-test');
  t.equal(attr('thread.name'), 'shard-3');
  t.equal(rs?.scopeSpans[0]?.scope.name, 'waddle');
  t.same(
    rs?.scopeSpans[0]?.spans.map((s) => s.name),
    ['sasl.auth'],
  );

  t.notOk(getTracer().startSpan('after').isRecording(), 'shutdown unregisters the provider');
});
