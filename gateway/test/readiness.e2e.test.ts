import { freePort, useStack, type Stack } from '../../test/support/stack';
import { startTcpProxy, type TcpProxy } from '../../test/support/tcp-proxy';
import { eventually } from '../../test/support/eventually';
import { graphql } from '../../test/support/graphql';
import { gql } from '../../generated/graphql/gateway';
import { startGateway, type GatewayServer } from '../src/app';
import { loadGatewayConfig } from '../src/config';

const SOME_PRODUCTS = gql(`query ReadinessProducts { products(first: 1) { totalCount } }`);

async function readiness(gateway: GatewayServer): Promise<{ status: number; body: { status: string; checks?: Record<string, string> } }> {
  const response = await fetch(new URL('/ready', gateway.url));
  return { status: response.status, body: (await response.json()) as { status: string; checks?: Record<string, string> } };
}

describe('gateway readiness', () => {
  const ctx = useStack();
  let stack: Stack;
  let redis: TcpProxy;
  let gateway: GatewayServer;

  beforeAll(async () => {
    stack = ctx.stack;
    // This gateway reaches Redis through a proxy the test can cut.
    redis = await startTcpProxy();
    gateway = await startGateway(loadGatewayConfig({ ...stack.env, GATEWAY_PORT: String(await freePort()), REDIS_URL: redis.url }));
  });
  afterAll(async () => {
    await gateway?.stop();
    await redis?.close();
  });

  it('is ready with everything up, and names each dependency', async () => {
    expect(await readiness(gateway)).toEqual({
      status: 200,
      body: { status: 'ready', checks: { redis: 'up', 'subgraph:auth': 'up', 'subgraph:catalog': 'up', 'subgraph:inventory': 'up', 'subgraph:order': 'up', 'subgraph:notification': 'up' } },
    });
  });

  it('is unavailable (503) while its Redis cannot be reached, and ready again once it can', async () => {
    redis.block();
    const down = await eventually(() => readiness(gateway), (r) => r.status === 503);
    expect(down.body).toMatchObject({ status: 'unavailable', checks: { redis: 'down', 'subgraph:catalog': 'up' } });
    await redis.unblock();
    expect((await eventually(() => readiness(gateway), (r) => r.status === 200)).body.status).toBe('ready');
  });

  it('stays in the load balancer while one subgraph is down: 200 "degraded", and the rest of the shop answers', async () => {
    await stack.servers.notification.stop();
    const degraded = await readiness(gateway);
    expect(degraded).toMatchObject({ status: 200, body: { status: 'degraded', checks: { redis: 'up', 'subgraph:notification': 'down', 'subgraph:catalog': 'up' } } });
    const products = await graphql(gateway.url, SOME_PRODUCTS);
    expect(products.errors).toBeUndefined();
    expect(typeof products.data!.products.totalCount).toBe('number');
  });

  it('stops without leaving a Redis command behind to fail later, even when Redis stopped answering', async () => {
    // The QUITs of the subscriptions' connections used to be left in flight: with no answer, they failed
    // once the connection dropped, as unhandled rejections in whatever ran next (here: this test).
    const hanging = await startTcpProxy();
    const other = await startGateway(loadGatewayConfig({ ...stack.env, GATEWAY_PORT: String(await freePort()), REDIS_URL: hanging.url }));
    await eventually(() => readiness(other), (r) => r.status === 200);
    hanging.hold();
    await other.stop();
    await hanging.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
  });
});
