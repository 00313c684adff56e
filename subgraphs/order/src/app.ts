import path from 'node:path';
import { openInfrastructure } from '../../../kernel/src/infrastructure';
import { loadTypeDefs, startSubgraph, type RunningServer } from '../../../kernel/src/server';
import type { OrderConfig } from './config';
import { OrderService } from './orders';
import { resolvers } from './resolvers';

export const ORDER_SCHEMA_FILE = path.resolve(__dirname, '../schema.graphql');

export async function startOrderService(config: OrderConfig): Promise<RunningServer> {
  const infra = await openInfrastructure('order', config);
  const orders = new OrderService(infra.prisma);
  return startSubgraph({
    name: 'order',
    typeDefs: loadTypeDefs(ORDER_SCHEMA_FILE),
    resolvers,
    jwt: infra.jwt,
    logger: infra.logger,
    port: config.ORDER_PORT,
    host: config.ORDER_HOST,
    readiness: infra.readiness,
    onStop: infra.close,
    context: (base) => ({ ...base, orders }),
  });
}
