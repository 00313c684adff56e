import { STATUS_CODES } from 'node:http';
import { Pool } from 'undici';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';

export type Fetcher = NonNullable<NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher']>;
type FetcherInit = Parameters<Fetcher>[1];

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** What RemoteGraphQLDataSource reads of a response; each caller gets its own, so its JSON is parsed for it alone. */
class SubgraphResponse {
  constructor(
    readonly url: string,
    private readonly answer: Answer,
  ) {}

  get ok(): boolean {
    return this.answer.status >= 200 && this.answer.status < 300;
  }
  get status(): number {
    return this.answer.status;
  }
  get statusText(): string {
    return STATUS_CODES[this.answer.status] ?? '';
  }
  get headers(): Headers {
    return this.answer.headers;
  }
  async json(): Promise<unknown> {
    return JSON.parse(this.answer.body);
  }
  async text(): Promise<string> {
    return this.answer.body;
  }
}

/** Only the gateway's query fetches are shared (its bodies start with the document); a mutation always goes out on its own. */
const isQuery = (body: string) => body.startsWith('{"query":"query') || body.startsWith('{"query":"{');

/** One request that went out to the subgraph: how long it took, and its status or why it failed. */
export interface FetchOutcome {
  seconds: number;
  status?: number;
  error?: 'timeout' | 'unreachable';
}

/**
 * The gateway's fetcher for one subgraph: undici's `request` on a keep-alive pool (fetch's WHATWG
 * machinery was a third of the gateway's CPU), bounded by `timeoutMs`, failing the way fetch does
 * (a TimeoutError, or TypeError "fetch failed") so that SubgraphDataSource maps both to SERVICE_UNAVAILABLE.
 *
 * Identical query fetches in flight at the same moment (same subgraph, same headers, so the same
 * internal token and caller; same document and variables) share one request, as Hive Gateway and
 * Apollo Router's query deduplication do: nothing is kept once the answer is in, so it is not a cache.
 */
export function subgraphFetcher(
  url: string,
  { timeoutMs, dedupeQueries, onFetch }: { timeoutMs: number; dedupeQueries: boolean; onFetch?: (outcome: FetchOutcome) => void },
): { fetcher: Fetcher; close(): Promise<void> } {
  const target = new URL(url);
  const pool = new Pool(target.origin);
  const path = `${target.pathname}${target.search}`;
  const inflight = new Map<string, Promise<Answer>>();

  const send = async (init: FetcherInit): Promise<Answer> => {
    const signal = AbortSignal.timeout(timeoutMs);
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const response = await pool.request({
        path,
        method: 'POST',
        headers: init?.headers as Record<string, string>,
        body: init?.body as string,
        signal,
      });
      const headers = new Headers();
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      const answer = { status: response.statusCode, headers, body: await response.body.text() };
      onFetch?.({ seconds: seconds(), status: answer.status });
      return answer;
    } catch (error) {
      onFetch?.({ seconds: seconds(), error: signal.aborted ? 'timeout' : 'unreachable' });
      if (signal.aborted) throw signal.reason;
      throw new TypeError('fetch failed', { cause: error });
    }
  };

  const fetcher = (async (_url: string, init: FetcherInit) => {
    const body = typeof init?.body === 'string' ? init.body : '';
    if (!dedupeQueries || !isQuery(body)) return new SubgraphResponse(url, await send(init));
    // Not the request id: two requests sharing a fetch is the point (the subgraph logs it under the first one's).
    const { 'x-request-id': _requestId, ...headers } = (init?.headers ?? {}) as Record<string, string>;
    const key = `${JSON.stringify(headers)}\n${body}`;
    let answer = inflight.get(key);
    if (!answer) {
      answer = send(init);
      inflight.set(key, answer);
      void answer.then(
        () => inflight.delete(key),
        () => inflight.delete(key),
      );
    }
    return new SubgraphResponse(url, await answer);
  }) as unknown as Fetcher;

  return { fetcher, close: () => pool.close() };
}
