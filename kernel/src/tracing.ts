/**
 * OpenTelemetry for a service process. Imported first by every main.ts: the instrumentations patch
 * http, undici, pg, graphql and Prisma as they load, so nothing may load them before this runs.
 *
 * Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: then not
 * even the SDK is loaded. On, it exports spans over OTLP as the standard OTEL_* variables say
 * (OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_BSP_SCHEDULE_DELAY, OTEL_TRACES_SAMPLER, ...); the service name
 * is OTEL_SERVICE_NAME, else the service the entry point belongs to (gateway, auth, catalog, ...).
 */
import type * as Sdk from '@opentelemetry/sdk-node';
import { loadDotenv } from './config';
import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';

/** Paths polled by probes and scrapers: never the start of a trace. */
const UNTRACED_PATHS = new Set(['/health', '/ready', '/metrics']);

/** `subgraphs/auth/src/main.ts` -> auth, `gateway/src/main.ts` -> gateway. */
export function serviceOfEntry(entry: string | undefined): string | undefined {
  return /(?:^|[\\/])(?:subgraphs[\\/]([\w-]+)|(gateway))[\\/]src[\\/]main\.[cm]?[tj]s$/.exec(entry ?? '')?.slice(1).find(Boolean);
}

/** Telegram's Bot API puts the bot's token in the path (/bot<token>/sendMessage): it stays out of span attributes. */
export const withoutBotToken = (url: string): string => url.replace(/\/bot\d+:[\w-]+/g, '/bot[token]');

function startTracing(env: NodeJS.ProcessEnv): void {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return;
  // Loaded only now: without an endpoint the process never pays for the SDK.
  const { NodeSDK, tracing, api } = require('@opentelemetry/sdk-node') as typeof Sdk;
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici');
  const { GraphQLInstrumentation } = require('@opentelemetry/instrumentation-graphql') as typeof import('@opentelemetry/instrumentation-graphql');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { PrismaInstrumentation } = require('@prisma/instrumentation') as typeof import('@prisma/instrumentation');

  /**
   * A trace starts only where work enters a service: a request it serves, an event it consumes.
   * The background loops' own queries (an outbox poll, a saga worker round) would otherwise be a
   * trace each, several a second per service.
   */
  class EntrySpansOnly implements Sdk.tracing.Sampler {
    constructor(private readonly inner: Sdk.tracing.Sampler) {}
    shouldSample(context: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): Sdk.tracing.SamplingResult {
      if (kind !== api.SpanKind.SERVER && kind !== api.SpanKind.CONSUMER) return { decision: tracing.SamplingDecision.NOT_RECORD };
      return this.inner.shouldSample(context, traceId, name, kind, attributes, links);
    }
    toString(): string {
      return `EntrySpansOnly{${this.inner.toString()}}`;
    }
  }

  // OTEL_TRACES_SAMPLER decides for the traces that may start; a span with a parent follows its parent.
  const sampler = env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on';
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? 1);
  const root = sampler.endsWith('always_off')
    ? new tracing.AlwaysOffSampler()
    : sampler.endsWith('traceidratio')
      ? new tracing.TraceIdRatioBasedSampler(Number.isFinite(ratio) ? ratio : 1)
      : new tracing.AlwaysOnSampler();

  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME wins when set (the SDK's environment detector reads it).
    serviceName: env.OTEL_SERVICE_NAME ? undefined : (serviceOfEntry(process.argv[1]) ?? 'shop'),
    sampler: new tracing.ParentBasedSampler({ root: new EntrySpansOnly(root) }),
    // Spans only: metrics are served at /metrics, logs go to stdout. Either is exported when its OTEL_*_EXPORTER asks.
    ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0]!) }),
      new UndiciInstrumentation({
        startSpanHook: (request) => (request.path.startsWith('/bot') ? { 'url.full': withoutBotToken(`${request.origin}${request.path}`), 'url.path': withoutBotToken(request.path) } : {}),
      }),
      new GraphQLInstrumentation({ ignoreTrivialResolveSpans: true, mergeItems: true }),
      new PgInstrumentation({ requireParentSpan: true }),
      new PrismaInstrumentation(),
    ],
  });
  sdk.start();
  // runService stops the service and exits on these signals: what is batched goes out meanwhile.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void sdk.shutdown().catch(() => undefined));
}

// OTEL_* variables may be in .env like any other (config.ts, which reads it, loads nothing traced).
loadDotenv();
startTracing(process.env);
