import { openInfrastructure, openOutboxRelay } from '../../../kernel/src/infrastructure';
import { projectPath } from '../../../kernel/src/project-root';
import { loadTypeDefs, startSubgraph, type RunningServer } from '../../../kernel/src/server';
import { OutboxRelay } from '../../../kernel/src/events/outbox';
import { liveChannel, type EventEnvelope, type OrderEvent } from '../../../kernel/src/events/envelope';
import type { JwtService } from '../../../kernel/src/jwt';
import type { OrderConfig } from './config';
import { CatalogClient } from './catalog-client';
import { Failpoints } from './failpoints';
import { InventoryClient } from './inventory-client';
import { OrderPlacement } from './placement';
import { OrderService } from './orders';
import { OrderSaga, SagaWorker } from './saga';
import { SubgraphClient } from '../../../kernel/src/subgraph-client';
import { OrderTransitions } from './transitions';
import { createOrderContext, resolvers } from './resolvers';

export const ORDER_SCHEMA_FILE = projectPath('subgraphs/order/schema.graphql');


export interface OrderServer extends RunningServer {
  saga: OrderSaga;
  worker: SagaWorker;
}

/** Service tokens live 5 minutes: one is signed a minute and reused. */
function cachedServiceToken(jwt: JwtService): () => Promise<string> {
  let token: Promise<string> | undefined;
  let signedAt = 0;
  return () => {
    if (!token || Date.now() - signedAt > 60_000) {
      signedAt = Date.now();
      token = jwt.signService('order');
    }
    return token;
  };
}

export async function startOrderService(config: OrderConfig): Promise<OrderServer> {
  const infra = await openInfrastructure('order', config);
  const { prisma, logger } = infra;
  const outbox = openOutboxRelay(infra, config, 'order',
    // Subscribers of orderUpdated at the gateway get every order event, live.
    (event: EventEnvelope) =>
      event.type.startsWith('Order') ? { channel: liveChannel(config.REDIS_KEY_PREFIX, 'orderUpdated'), message: event.payload as OrderEvent } : undefined,
  );
  const { relay } = outbox;

  const serviceToken = cachedServiceToken(infra.jwt);
  const catalog = new CatalogClient(new SubgraphClient({ name: 'catalog', url: config.CATALOG_URL, serviceToken, timeoutMs: config.SERVICE_CALL_TIMEOUT_MS }), logger);
  const inventory = new InventoryClient(new SubgraphClient({ name: 'inventory', url: config.INVENTORY_URL, serviceToken, timeoutMs: config.SERVICE_CALL_TIMEOUT_MS }));
  const failpoints = new Failpoints(config.ORDER_FAILPOINTS, config.NODE_ENV);
  if (config.ORDER_FAILPOINTS.length && config.NODE_ENV !== 'production') logger.warn({ failpoints: config.ORDER_FAILPOINTS }, 'failpoints armed: this process kills itself there');

  const transitions = new OrderTransitions(prisma, relay, infra.metrics);
  const saga = new OrderSaga({
    prisma,
    transitions,
    inventory,
    failpoints,
    logger,
    metrics: infra.metrics,
    settings: {
      confirmationTimeoutSeconds: config.ORDER_CONFIRMATION_TIMEOUT_SECONDS,
      maxAttempts: config.ORDER_SAGA_MAX_ATTEMPTS,
      retryBaseMs: config.ORDER_SAGA_RETRY_BASE_MS,
      retryMaxMs: config.ORDER_SAGA_RETRY_MAX_MS,
      leaseMs: config.ORDER_SAGA_LEASE_MS,
    },
  });
  const placement = new OrderPlacement({ prisma, catalog, saga, failpoints, maxUnconfirmed: config.ORDER_MAX_UNCONFIRMED_PER_USER });
  const orders = new OrderService({ prisma, transitions, saga, placement });
  const worker = new SagaWorker(saga, { intervalMs: config.ORDER_WORKER_INTERVAL_MS, logger });

  relay.start();
  worker.start();

  const server = await startSubgraph({
    name: 'order',
    typeDefs: loadTypeDefs(ORDER_SCHEMA_FILE),
    resolvers,
    jwt: infra.jwt,
    logger,
    port: config.ORDER_PORT,
    host: config.ORDER_HOST,
    readiness: infra.readiness,
    metrics: infra.metrics,
    shutdown: config,
    queryCount: infra.queryCount,
    onStop: async () => {
      await worker.stop();
      await outbox.close();
      await infra.close();
    },
    context: (base) => createOrderContext(base, orders),
  });
  return { ...server, saga, worker };
}
