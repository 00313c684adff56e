import { openInfrastructure, openOutboxRelay } from '../../../kernel/src/infrastructure';
import { projectPath } from '../../../kernel/src/project-root';
import { loadTypeDefs, startSubgraph, type RunningServer } from '../../../kernel/src/server';
import { OutboxRelay } from '../../../kernel/src/events/outbox';
import { PollingWorker } from '../../../kernel/src/polling-worker';
import { liveChannel, type EventEnvelope, type StockChanged } from '../../../kernel/src/events/envelope';
import type { InventoryConfig } from './config';
import { ReservationService } from './reservations';
import { StockEvents } from './stock-events';
import { StockService } from './stock';
import { createInventoryContext, resolvers } from './resolvers';

export const INVENTORY_SCHEMA_FILE = projectPath('subgraphs/inventory/schema.graphql');

export interface InventoryServer extends RunningServer {
  reservations: ReservationService;
}

export async function startInventoryService(config: InventoryConfig): Promise<InventoryServer> {
  const infra = await openInfrastructure('inventory', config);
  const { prisma, logger } = infra;
  const outbox = openOutboxRelay(infra, config, 'inventory',
    // Subscribers at the gateway get every committed stock change, live.
    (event: EventEnvelope) =>
      event.type === 'StockChanged' ? { channel: liveChannel(config.REDIS_KEY_PREFIX, 'stockUpdated'), message: event.payload as StockChanged } : undefined,
  );
  const { relay } = outbox;
  const events = new StockEvents(prisma, relay);
  const stock = new StockService(prisma, events);
  const reservations = new ReservationService(prisma, stock, events, config.RESERVATION_TTL_SECONDS, logger, infra.metrics);

  // One sweep at a time: a slow one delays the next rather than running beside it.
  const sweeper = new PollingWorker({
    run: () => reservations.releaseExpired(),
    intervalMs: config.RESERVATION_SWEEP_INTERVAL_MS,
    onFailure: (error) => logger.warn({ err: error }, 'releasing expired reservations failed'),
  });

  relay.start();
  sweeper.start(config.RESERVATION_SWEEP_INTERVAL_MS);

  const server = await startSubgraph({
    name: 'inventory',
    typeDefs: loadTypeDefs(INVENTORY_SCHEMA_FILE),
    resolvers,
    jwt: infra.jwt,
    logger,
    port: config.INVENTORY_PORT,
    host: config.INVENTORY_HOST,
    readiness: infra.readiness,
    metrics: infra.metrics,
    shutdown: config,
    queryCount: infra.queryCount,
    onStop: async () => {
      await sweeper.stop();
      await outbox.close();
      await infra.close();
    },
    context: (base) => createInventoryContext(base, { stock, reservations }),
  });
  return { ...server, reservations };
}
