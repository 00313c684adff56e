import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, isSpanContextValid, propagation, trace, type Context, type Span } from '@opentelemetry/api';

/**
 * What ties a piece of work to the request it serves, across processes: in headers, in event
 * envelopes, on the rows a background worker picks up later.
 */
export interface RequestTrace {
  /** The id on every log line of the request: its trace id when tracing, else its x-request-id. */
  requestId: string;
  /** The W3C traceparent of the span that did the work; only when tracing. */
  traceparent?: string;
}

/** A RequestTrace as it was stored (a row's nullable columns, an envelope's optional fields). */
export type CarriedTrace = { requestId?: string | null; traceparent?: string | null };

const store = new AsyncLocalStorage<{ requestId: string }>();

/** Without an SDK (OTEL_EXPORTER_OTLP_ENDPOINT unset) this tracer is a no-op and costs next to nothing. */
const tracer = () => trace.getTracer('shop');

/** The request the current code works for, if any (the logger's mixin reads it). */
export function currentRequestId(): string | undefined {
  return store.getStore()?.requestId;
}

/** The trace id of the active span, when tracing. */
function activeTraceId(ctx: Context = context.active()): string | undefined {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/** A caller's x-request-id is kept when it looks like an id; anything else (too long, odd characters) is replaced. */
const SANE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The request id of an incoming request: the trace id when tracing, else the caller's x-request-id, else a new one. */
export function requestIdFor(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return activeTraceId() ?? (given && SANE_REQUEST_ID.test(given) ? given : randomUUID());
}

/** Runs `fn` as work for `requestId`: every log line it writes carries the id. */
export function runForRequest<T>(requestId: string, fn: () => T): T {
  return store.run({ requestId }, fn);
}

/** Runs `fn` outside any request and trace (a background round): what it logs and traces is its own. */
export function runOutsideRequests<T>(fn: () => T): T {
  return context.with(ROOT_CONTEXT, () => store.exit(fn));
}

/** The current request and trace, to carry along (an event, a row a worker resumes); undefined outside requests. */
export function currentTrace(): RequestTrace | undefined {
  const requestId = currentRequestId() ?? activeTraceId();
  if (!requestId) return undefined;
  const carrier: { traceparent?: string } = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? { requestId, traceparent: carrier.traceparent } : { requestId };
}

/** Headers that carry the current request on to another service (x-request-id; traceparent is the HTTP instrumentation's). */
export function requestHeaders(): Record<string, string> {
  const requestId = currentRequestId();
  return requestId ? { 'x-request-id': requestId } : {};
}

/**
 * Runs `fn` inside a new span `name` that continues `carried` (the trace of the request that
 * caused this work: an event's, an order's), and as work for that request in the logs. Without a
 * carried trace the span starts a trace of its own.
 */
export async function continueTrace<T>(
  carried: CarriedTrace | null | undefined,
  name: string,
  options: SpanOptions,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parentOf(carried), async (span) => {
    // A carried trace id is the request id; a request that was not traced carries its x-request-id.
    const requestId = (carried?.traceparent ? activeTraceId() : undefined) ?? carried?.requestId ?? activeTraceId();
    return runInSpan(span, requestId, fn);
  });
}

/**
 * Runs `fn` inside a new span `name`, a child of the active one (a webhook's HTTP request) or, with
 * none, the root of a trace of its own (an update read by long polling), as work for the current
 * request in the logs, or for the new trace.
 */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, context.active(), (span) =>
    runInSpan(span, currentRequestId() ?? activeTraceId(), fn),
  );
}

async function runInSpan<T>(span: Span, requestId: string | undefined, fn: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await (requestId ? runForRequest(requestId, () => fn(span)) : store.exit(() => fn(span)));
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/**
 * A span continuing `carried` that the caller ends (work that is not one function call: a batch's
 * Redis write), and the trace to carry on from it.
 */
export function startContinuedSpan(carried: CarriedTrace, name: string, options: SpanOptions): { span: Span; carried: Partial<RequestTrace> } {
  const parent = parentOf(carried);
  const span = tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent);
  const carrier: { traceparent?: string } = {};
  propagation.inject(trace.setSpan(parent, span), carrier);
  // Work no trace carried here stays untraced: its consumer may start a trace of its own.
  const traceparent = carried.traceparent ? (carrier.traceparent ?? carried.traceparent) : undefined;
  return { span, carried: { ...(carried.requestId ? { requestId: carried.requestId } : {}), ...(traceparent ? { traceparent } : {}) } };
}

interface SpanOptions {
  kind?: SpanKind;
  attributes?: Record<string, string | number | boolean>;
}

const parentOf = (carried: CarriedTrace | null | undefined): Context =>
  carried?.traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent: carried.traceparent }) : ROOT_CONTEXT;

export { SpanKind, SpanStatusCode, type Span };
