import http from 'node:http';
import net from 'node:net';
import { useStack } from '../../test/support/stack';
import { gql } from '../../generated/graphql/gateway';
import { firstErrorCode } from '../../test/support/graphql';
import { PRODUCT_TOTAL } from '../../test/support/operations';
import { useHungServer } from '../../test/support/hung-server';

describe('a subgraph that does not answer', () => {
  const hung = useHungServer();

  // The gateway routes the catalog to the hung server, with a 500 ms limit per subgraph call.
  const shop = useStack({}, { serviceEnv: { gateway: { SUBGRAPH_TIMEOUT_MS: '500', get CATALOG_URL() { return hung.url; } } } });

  it('costs its fields a SERVICE_UNAVAILABLE after the timeout, while the rest of the response and other clients are served', async () => {
    const started = Date.now();
    const [mixed, other] = await Promise.all([
      shop.stack.gql(gql(`query NameAndOnHandOfOne { product(id: "00000000-0000-4000-8000-000000000001") { name } inventoryItem(productId: "00000000-0000-4000-8000-000000000001") { onHand } }`)),
      shop.stack.gql(gql(`query OnHandOfTwo { inventoryItem(productId: "00000000-0000-4000-8000-000000000002") { onHand } }`)),
    ]);
    expect(mixed.data).toEqual({ product: null, inventoryItem: null });
    // The gateway reports a failed fetch without a path; the service it names is the one that timed out.
    expect(mixed.errors).toEqual([
      { message: 'The catalog service did not answer within 500 ms; try again shortly.', extensions: { code: 'SERVICE_UNAVAILABLE', service: 'catalog', reason: 'timeout' } },
    ]);
    expect(JSON.stringify(mixed.errors)).not.toContain(hung.url);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(other.errors).toBeUndefined();
  });

  it('does not hold a whole page hostage: a non-null root field from it fails the response, quickly, with the code', async () => {
    const response = await shop.stack.gql(PRODUCT_TOTAL);
    expect(firstErrorCode(response)).toBe('SERVICE_UNAVAILABLE');
    expect(response.status).toBe(200);
  });
});

describe('a subgraph that answers an error without a code of ours', () => {
  // Something else at a subgraph's address (a misrouted URL, a foreign service) answering with a raw error.
  const leaky = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ data: null, errors: [{ message: 'connect ECONNREFUSED 10.0.0.5:5432 password=hunter2' }] }));
  });
  const holder: { url?: string } = {};
  beforeAll(async () => {
    await new Promise<void>((resolve) => leaky.listen(0, '127.0.0.1', resolve));
    holder.url = `http://127.0.0.1:${(leaky.address() as net.AddressInfo).port}/graphql`;
  });
  afterAll(() => new Promise((resolve) => leaky.close(resolve)));
  const shop = useStack({}, { serviceEnv: { gateway: { get CATALOG_URL() { return holder.url; } } } });

  it('is masked as INTERNAL_SERVER_ERROR, its message kept for the logs', async () => {
    const response = await shop.stack.gql(gql(`query NameOfOne { product(id: "00000000-0000-4000-8000-000000000001") { name } }`));
    expect(response.errors).toEqual([{ message: 'Something went wrong on our side; it has been logged.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    expect(response.raw).not.toContain('hunter2');
  });
});
