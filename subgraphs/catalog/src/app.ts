import path from 'node:path';
import { openInfrastructure } from '../../../kernel/src/infrastructure';
import { loadTypeDefs, startSubgraph, type RunningServer } from '../../../kernel/src/server';
import type { CatalogConfig } from './config';
import { ProductService } from './products';
import { createCatalogContext, resolvers } from './resolvers';

export const CATALOG_SCHEMA_FILE = path.resolve(__dirname, '../schema.graphql');

export async function startCatalogService(config: CatalogConfig): Promise<RunningServer> {
  const infra = await openInfrastructure('catalog', config);
  const products = new ProductService(infra.prisma);
  return startSubgraph({
    name: 'catalog',
    typeDefs: loadTypeDefs(CATALOG_SCHEMA_FILE),
    resolvers,
    jwt: infra.jwt,
    logger: infra.logger,
    port: config.CATALOG_PORT,
    host: config.CATALOG_HOST,
    readiness: infra.readiness,
    onStop: infra.close,
    context: (base) => createCatalogContext(base, products),
  });
}
