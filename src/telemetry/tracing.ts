// OpenTelemetry tracing, started first in each thread's entry file (STYLE §4.5). The API's
// providers are per thread, so each thread calls startTracing() once; code opens spans
// ('xmpp.route', 'sasl.auth') with getTracer().
//
// Without an endpoint a tracer provider is still registered, with a span processor that
// drops every span: spans get real trace and span ids (log lines and mesh envelopes can carry
// them) but nothing is buffered or sent. Measured on the dev machine (Node 24): such a span
// costs ~1 µs CPU to start and end, against ~0.1 µs for the API's no-op span, so hot paths
// should open spans sparingly (OTEL_TRACES_SAMPLER=always_off brings it to ~0.6 µs). With an endpoint, spans are batched and POSTed as
// OTLP/HTTP JSON to <endpoint>/v1/traces. Standard OTEL_* variables still tune the SDK
// (OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_SDK_DISABLED).

import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { api, NodeSDK, resources, tracing } from '@opentelemetry/sdk-node';

export type Tracer = api.Tracer;
export type Span = api.Span;

export interface TracingOptions {
  serviceName: string;
  /** OTLP/HTTP base URL (e.g. http://127.0.0.1:4318); null → no export, no network. */
  otlpEndpoint: string | null;
  /** 'primary' or 'shard-<n>'; recorded as the resource attribute thread.name. */
  thread: string;
}

export interface Tracing {
  /** Flushes pending spans, then unregisters the thread's providers (so tracing may start again). */
  shutdown(): Promise<void>;
}

/** Spec: the signal path is appended to OTEL_EXPORTER_OTLP_ENDPOINT-style base URLs. */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

export function startTracing(opts: TracingOptions): Tracing {
  const spanProcessor =
    opts.otlpEndpoint === null
      ? new tracing.NoopSpanProcessor()
      : new tracing.BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(opts.otlpEndpoint) }));
  const sdk = new NodeSDK({
    serviceName: opts.serviceName,
    resource: resources.defaultResource().merge(resources.resourceFromAttributes({ 'thread.name': opts.thread })),
    spanProcessors: [spanProcessor],
    // Left out, NodeSDK would start OTLP metric and log exporters to localhost:4318 from its
    // environment defaults. Metrics are prom-client's job and logs are pino's.
    metricReaders: [],
    logRecordProcessors: [],
    // No auto-instrumentation: the server's spans are opened explicitly where they mean something.
    instrumentations: [],
  });
  sdk.start();
  return {
    async shutdown() {
      await sdk.shutdown();
      api.trace.disable();
      api.context.disable();
      api.propagation.disable();
    },
  };
}

/** The tracer for server code; before startTracing() (or without it) its spans are no-ops. */
export function getTracer(): Tracer {
  return api.trace.getTracer('waddle');
}
