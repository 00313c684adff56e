import path from 'node:path';
import { openInfrastructure } from '../../../kernel/src/infrastructure';
import { loadTypeDefs, startSubgraph, type RunningServer } from '../../../kernel/src/server';
import type { InventoryConfig } from './config';
import { StockService } from './stock';
import { createInventoryContext, resolvers } from './resolvers';

export const INVENTORY_SCHEMA_FILE = path.resolve(__dirname, '../schema.graphql');

export async function startInventoryService(config: InventoryConfig): Promise<RunningServer> {
  const infra = await openInfrastructure('inventory', config);
  const stock = new StockService(infra.prisma);
  return startSubgraph({
    name: 'inventory',
    typeDefs: loadTypeDefs(INVENTORY_SCHEMA_FILE),
    resolvers,
    jwt: infra.jwt,
    logger: infra.logger,
    port: config.INVENTORY_PORT,
    host: config.INVENTORY_HOST,
    readiness: infra.readiness,
    onStop: infra.close,
    context: (base) => createInventoryContext(base, stock),
  });
}
