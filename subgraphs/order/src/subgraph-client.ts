/** What a subgraph answered: its data, or its errors with their codes. */
export interface SubgraphAnswer<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string; [key: string]: unknown } }>;
}

/** The subgraph could not be asked: unreachable, too slow, a 5xx, or not GraphQL at all. */
export class SubgraphUnavailable extends Error {
  override name = 'SubgraphUnavailable';
}

/** POSTs GraphQL straight to another subgraph as a platform service (the gateway is for clients). */
export class SubgraphClient {
  constructor(
    private readonly options: { name: string; url: string; serviceToken: () => Promise<string>; timeoutMs: number },
  ) {}

  async request<T>(query: string, variables: Record<string, unknown>): Promise<SubgraphAnswer<T>> {
    const { name, url, serviceToken, timeoutMs } = this.options;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await serviceToken()}` },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw new SubgraphUnavailable(`${name} did not answer: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
    }
    if (response.status >= 500) throw new SubgraphUnavailable(`${name} answered HTTP ${response.status}`);
    try {
      return JSON.parse(text) as SubgraphAnswer<T>;
    } catch {
      throw new SubgraphUnavailable(`${name} answered HTTP ${response.status} with something that is not JSON`);
    }
  }
}
