import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Express, Request, Response } from 'express';
import type { ApolloServerPlugin } from '@apollo/server';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics (text exposition at GET /metrics). Every metric of ours is named `shop_...`;
 * the process metrics (event-loop lag, heap, GC, CPU) keep prom-client's standard names, so stock
 * Node.js dashboards and alerts read them as they are.
 */

/** Distinct operation names (and error codes) a label keeps; the rest share "other", so a client cannot blow up the series. */
const DEFAULT_MAX_LABEL_VALUES = 100;
/** A collect-on-scrape source that has not answered by then is left out of that scrape, rather than hanging it. */
const COLLECT_TIMEOUT_MS = 2000;

/** Where GET /metrics is served: on the service's own port unless `port` is set; with `token`, only to `Authorization: Bearer <token>`. */
export interface MetricsEndpoint {
  token?: string;
  port?: number;
}

/** The settings of the /metrics endpoint every service reads (README, "Limits and production settings"). */
export const metricsEndpointOf = (config: { METRICS_TOKEN?: string; METRICS_PORT?: number }): MetricsEndpoint => ({
  token: config.METRICS_TOKEN,
  port: config.METRICS_PORT,
});

// One per process: the default metrics observe the process, however many services it runs (the tests run six).
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

type Labels<L extends string> = Partial<Record<L, string | number>>;
/** Reports the values of a collect-on-scrape gauge: call `set` once per label set. */
export type Collector<L extends string> = (set: (labels: Labels<L>, value: number) => void) => Promise<void> | void;

/** Keeps the first `max` distinct values of an unbounded label; later ones read "other". */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly missing: string,
  ) {}

  of(value: string | null | undefined): string {
    if (!value) return this.missing;
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }
}

/**
 * One service's metrics: its Registry (scraped with the process's default metrics), get-or-create
 * helpers so that each module defines the metrics it counts next to the code that counts them,
 * and gauges read on scrape.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly endpoint: MetricsEndpoint;
  private readonly collectors = new Map<string, Set<Collector<string>>>();
  private readonly operations: BoundedLabel;
  private readonly codes: BoundedLabel;

  constructor(options: { endpoint?: MetricsEndpoint; maxOperationNames?: number } = {}) {
    this.endpoint = options.endpoint ?? {};
    this.operations = new BoundedLabel(options.maxOperationNames ?? DEFAULT_MAX_LABEL_VALUES, 'anonymous');
    this.codes = new BoundedLabel(DEFAULT_MAX_LABEL_VALUES, 'NONE');
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return (this.registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return (this.registry.getSingleMetric(name) as Gauge<L> | undefined) ?? new Gauge<L>({ name, help, labelNames, registers: [this.registry] });
  }

  /** Durations in seconds; prom-client's default buckets (5 ms to 10 s) unless given. */
  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]): Histogram<L> {
    return (
      (this.registry.getSingleMetric(name) as Histogram<L> | undefined) ??
      new Histogram<L>({ name, help, labelNames, registers: [this.registry], ...(buckets ? { buckets } : {}) })
    );
  }

  /**
   * A gauge whose values are read when Prometheus scrapes (a cheap, indexed query; a Redis XINFO),
   * not kept up to date by the code. Several sources may feed one gauge (two pools, two streams);
   * one that fails or hangs is left out of that scrape.
   */
  collected<L extends string = never>(name: string, help: string, labelNames: readonly L[], collector: Collector<L>): void {
    let sources = this.collectors.get(name);
    if (!sources) {
      const all = new Set<Collector<string>>();
      sources = all;
      this.collectors.set(name, all);
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers: [this.registry],
        async collect() {
          this.reset();
          await Promise.all([...all].map((source) => withTimeout(Promise.resolve(source((labels, value) => this.set(labels as Labels<L>, value))))));
        },
      });
    }
    sources.add(collector as Collector<string>);
  }

  /** The operation's label: its name for the first names seen, "anonymous" without one, "other" past the cap. */
  operationLabel(name: string | null | undefined): string {
    return this.operations.of(name);
  }

  /**
   * Requests, latency and errors of a GraphQL server (the gateway and every subgraph):
   * `shop_graphql_requests_total{operation,outcome}`, `shop_graphql_request_duration_seconds{operation}`,
   * `shop_graphql_errors_total{code}` (the `extensions.code` each response carried). The gateway's
   * own executions for subscription events (`internal`) are not client requests.
   */
  graphqlPlugin<TContext extends object>(): ApolloServerPlugin<TContext> {
    const requests = this.counter('shop_graphql_requests_total', 'GraphQL requests answered, by operation name and outcome (success, partial: data with errors, error)', ['operation', 'outcome']);
    const duration = this.histogram('shop_graphql_request_duration_seconds', 'Time from a GraphQL request arriving to its response, by operation name', ['operation']);
    const errors = this.counter('shop_graphql_errors_total', 'Errors in GraphQL responses, by extensions.code', ['code']);
    return {
      requestDidStart: async ({ contextValue }) => {
        if ((contextValue as { internal?: boolean }).internal) return;
        const started = process.hrtime.bigint();
        // Only a name that resolved to an operation of the document takes one of the label's places.
        let operation: string | undefined;
        return {
          didResolveOperation: async ({ operationName }) => {
            operation = operationName ?? undefined;
          },
          willSendResponse: async ({ response }) => {
            const label = this.operationLabel(operation);
            const result = response.body.kind === 'single' ? response.body.singleResult : undefined;
            const found = result?.errors ?? [];
            const outcome = found.length === 0 ? 'success' : result?.data ? 'partial' : 'error';
            for (const error of found) errors.inc({ code: this.codes.of(error.extensions?.code as string | undefined) });
            requests.inc({ operation: label, outcome });
            duration.observe({ operation: label }, Number(process.hrtime.bigint() - started) / 1e9);
          },
        };
      },
    };
  }

  /** The text Prometheus reads: the process's default metrics, then this service's. */
  async scrape(): Promise<string> {
    const [process, own] = await Promise.all([processMetrics().metrics(), this.registry.metrics()]);
    return `${process}\n${own}`;
  }
}

/**
 * `read` shared by the gauges of one scrape (their collectors start in the same tick): one query or
 * XINFO for several gauges. Only while it is in flight: a scrape right after another reads afresh
 * (kept 100 ms longer, a scrape just after an order was placed could still show the count from before it).
 */
export function oncePerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let reading: Promise<T> | undefined;
  return () =>
    (reading ??= read().finally(() => {
      reading = undefined;
    }));
}

function withTimeout(work: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, COLLECT_TIMEOUT_MS);
  });
  return Promise.race([work.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/** Answers GET /metrics: 401 without the bearer token when one is configured. */
async function answerScrape(metrics: Metrics, authorization: string | undefined, res: http.ServerResponse): Promise<void> {
  const { token } = metrics.endpoint;
  if (token && !sameSecret(authorization ?? '', `Bearer ${token}`)) {
    res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer' }).end('metrics need Authorization: Bearer <METRICS_TOKEN>\n');
    return;
  }
  const body = await metrics.scrape();
  res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
}

export interface MetricsServer {
  /** Where GET /metrics answers. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves GET /metrics: on the service's app (mounted on `app` here, before its other routes), or,
 * with `endpoint.port`, on a port of its own at `host`, so it can stay off the public one.
 */
export async function serveMetrics(metrics: Metrics, app: Express, host: string, servicePort: () => number): Promise<MetricsServer> {
  const { port } = metrics.endpoint;
  if (port === undefined) {
    app.get('/metrics', (req: Request, res: Response, next) => {
      answerScrape(metrics, req.headers.authorization, res).catch(next);
    });
    return { get url() { return `http://${host}:${servicePort()}/metrics`; }, stop: async () => undefined };
  }
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://x').pathname !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    answerScrape(metrics, req.headers.authorization, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}/metrics`;
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Prometheus keeps its connection open between scrapes.
        server.closeAllConnections();
      }),
  };
}
