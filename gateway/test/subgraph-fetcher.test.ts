import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { subgraphFetcher } from '../src/subgraph-fetcher';

/** A subgraph stand-in that answers every POST after `delayMs`, counting what it received. */
async function slowSubgraph(delayMs: number) {
  const received: Array<{ authorization?: string; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ authorization: req.headers.authorization, body });
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=5' });
        res.end(JSON.stringify({ data: { n: received.length } }));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const QUERY = JSON.stringify({ query: 'query Storefront__catalog__0{products{id}}', variables: {} });
const MUTATION = JSON.stringify({ query: 'mutation Place__order__0{placeOrder{id}}', variables: {} });
const init = (body: string, authorization = 'Bearer a') => ({ method: 'POST', headers: { 'content-type': 'application/json', authorization }, body });

describe('the gateway fetcher for a subgraph', () => {
  let subgraph: Awaited<ReturnType<typeof slowSubgraph>>;
  let fetcher: ReturnType<typeof subgraphFetcher>;
  beforeEach(async () => {
    subgraph = await slowSubgraph(100);
    fetcher = subgraphFetcher(subgraph.url, { timeoutMs: 2000, dedupeQueries: true });
  });
  afterEach(async () => {
    await fetcher.close();
    await subgraph.close();
  });
  const send = (body: string, authorization?: string) => fetcher.fetcher(subgraph.url, init(body, authorization) as never);

  it('sends identical queries in flight at once as one request, each caller getting its own copy', async () => {
    const responses = await Promise.all([send(QUERY), send(QUERY), send(QUERY)]);
    expect(subgraph.received).toHaveLength(1);
    const bodies = (await Promise.all(responses.map((response) => response.json()))) as Array<{ data: { n: number } }>;
    bodies[0]!.data.n = 99;
    expect(bodies[1]).toEqual({ data: { n: 1 } });
    expect(responses[2]!.headers.get('cache-control')).toBe('max-age=5');
    expect(responses[2]!.ok).toBe(true);
  });

  it('shares nothing between callers with different tokens, between mutations, or once the answer is in', async () => {
    await Promise.all([send(QUERY, 'Bearer a'), send(QUERY, 'Bearer b'), send(MUTATION), send(MUTATION)]);
    expect(subgraph.received).toHaveLength(4);
    await send(QUERY, 'Bearer a');
    expect(subgraph.received).toHaveLength(5);
    expect(subgraph.received.map((r) => r.authorization).sort()).toEqual(['Bearer a', 'Bearer a', 'Bearer a', 'Bearer a', 'Bearer b']);
  });

  it('shares nothing when deduplication is off', async () => {
    const plain = subgraphFetcher(subgraph.url, { timeoutMs: 2000, dedupeQueries: false });
    await Promise.all([plain.fetcher(subgraph.url, init(QUERY) as never), plain.fetcher(subgraph.url, init(QUERY) as never)]);
    await plain.close();
    expect(subgraph.received).toHaveLength(2);
  });

  it('fails like fetch: a TimeoutError after the limit, TypeError "fetch failed" when nothing listens', async () => {
    const impatient = subgraphFetcher(subgraph.url, { timeoutMs: 20, dedupeQueries: true });
    await expect(impatient.fetcher(subgraph.url, init(QUERY) as never)).rejects.toMatchObject({ name: 'TimeoutError' });
    await impatient.close();
    await subgraph.close();
    const unreachable = subgraphFetcher(subgraph.url, { timeoutMs: 2000, dedupeQueries: true });
    await expect(unreachable.fetcher(subgraph.url, init(QUERY) as never)).rejects.toEqual(new TypeError('fetch failed'));
    await unreachable.close();
    subgraph = await slowSubgraph(0);
  });
});
