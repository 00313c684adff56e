import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { AppError, ErrorCode } from '../../kernel/src/errors';
import type { Metrics } from '../../kernel/src/metrics';
import { requestHeaders } from '../../kernel/src/request-context';
import type { GatewayContext } from './identity';
import { subgraphFetcher, type FetchOutcome } from './subgraph-fetcher';

/**
 * Calls one subgraph for the gateway: forwards the caller's identity as a signed internal token
 * (never the client's own headers), within a time limit, and turns a subgraph that cannot be
 * reached or does not answer in time into SERVICE_UNAVAILABLE for the fields it owns.
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    readonly name: string,
    url: string,
    private readonly timeoutMs: number,
    dedupeQueries = true,
    metrics?: Metrics,
  ) {
    // Bounded in time: a hung subgraph costs one request its part, never the gateway.
    super({ url, fetcher: subgraphFetcher(url, { timeoutMs, dedupeQueries, onFetch: metrics && fetchMetrics(metrics, name) }).fetcher });
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<void> {
    // The subgraph logs its part of the request under the same id (traceparent is added by the undici instrumentation).
    for (const [name, value] of Object.entries(requestHeaders())) request.http?.headers.set(name, value);
    if (!('internalToken' in context)) return;
    request.http?.headers.set('authorization', `Bearer ${await context.internalToken()}`);
  }

  override didEncounterError(error: Error): void {
    if (error.name === 'TimeoutError') {
      throw new AppError(ErrorCode.SERVICE_UNAVAILABLE, `The ${this.name} service did not answer within ${this.timeoutMs} ms; try again shortly.`, {
        service: this.name,
        reason: 'timeout',
      });
    }
    if (error instanceof TypeError && error.message === 'fetch failed') {
      throw new AppError(ErrorCode.SERVICE_UNAVAILABLE, `The ${this.name} service cannot be reached right now; try again shortly.`, {
        service: this.name,
        reason: 'unreachable',
      });
    }
    throw error;
  }
}

/** Each request to a subgraph (one per group of deduplicated fetches): its latency, and the failed ones by why. */
function fetchMetrics(metrics: Metrics, subgraph: string): (outcome: FetchOutcome) => void {
  const duration = metrics.histogram('shop_gateway_subgraph_fetch_duration_seconds', 'Requests from the gateway to a subgraph, until the whole answer is read', ['subgraph']);
  const errors = metrics.counter('shop_gateway_subgraph_fetch_errors_total', 'Requests to a subgraph that failed: timeout, unreachable, or http_<status> for a non-2xx answer', ['subgraph', 'reason']);
  return ({ seconds, status, error }) => {
    duration.observe({ subgraph }, seconds);
    if (error) errors.inc({ subgraph, reason: error });
    else if (status !== undefined && (status < 200 || status >= 300)) errors.inc({ subgraph, reason: `http_${status}` });
  };
}
