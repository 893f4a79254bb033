// Structured logs: pino JSON lines on stdout, one logger per shard (callers add `jid` and
// other context with child loggers).
//
// Destination: pino.destination({ fd: 1, sync: true }) writes each line with one
// fs.writeSync() straight to file descriptor 1. In a worker thread `process.stdout` is a
// stream relayed through the main thread's event loop, and pino's default asynchronous
// destination buffers in memory; either can lose the last lines when a worker exits or is
// terminated. A synchronous write costs one system call per line, which is acceptable at
// the default level 'info' (no per-stanza logging), and lines from different threads stay
// whole because each is written by one write() (atomic for pipes up to PIPE_BUF, 4 KiB).

import { api } from '@opentelemetry/sdk-node';
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

export interface CreateLoggerOptions {
  /** pino level: trace, debug, info, warn, error, fatal or silent. */
  level: string;
  /** Written on every line as `shard`; default 'primary'. */
  shard?: number | 'primary';
  /** Where lines go; default synchronous stdout (see the header comment). Tests pass a stream. */
  destination?: DestinationStream;
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      // Replaces pino's default { pid, hostname }: every thread shares both, the shard tells them apart.
      base: { shard: opts.shard ?? 'primary' },
      // Correlates a line with the trace that was active when it was logged (OpenTelemetry log data model names).
      mixin: traceContext,
    },
    opts.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

function traceContext(): { trace_id?: string; span_id?: string } {
  const ctx = api.trace.getActiveSpan()?.spanContext();
  if (ctx === undefined || !api.isSpanContextValid(ctx)) return {};
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}
