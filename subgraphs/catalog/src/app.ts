import { openInfrastructure } from '../../../kernel/src/infrastructure';
import { projectPath } from '../../../kernel/src/project-root';
import { loadTypeDefs, startSubgraph, type RunningServer } from '../../../kernel/src/server';
import type { PrismaClient } from '../../../kernel/src/prisma';
import type { CatalogConfig } from './config';
import { ProductListing } from './listing';
import { SearchDictionary } from './search';
import { ProductService } from './products';
import { createCatalogContext, resolvers, type CatalogServices } from './resolvers';
import { StockProjection } from './stock-projection';
import { SubgraphClient } from '../../../kernel/src/subgraph-client';
import { InventoryClient } from './inventory-client';
import { productChangeAnnouncer, type ProductChangeListener } from './product-changes';

export const CATALOG_SCHEMA_FILE = projectPath('subgraphs/catalog/schema.graphql');

/** The catalog's services over one database client; `changed` hears of each committed product change. */
export function createCatalogServices(prisma: PrismaClient, changed?: ProductChangeListener): CatalogServices {
  const dictionary = new SearchDictionary();
  return { products: new ProductService(prisma, changed, dictionary), listing: new ProductListing(prisma, dictionary) };
}

export async function startCatalogService(config: CatalogConfig): Promise<RunningServer> {
  const infra = await openInfrastructure('catalog', config);
  const changed = productChangeAnnouncer(infra.redis, config.REDIS_KEY_PREFIX, infra.logger);
  const services = createCatalogServices(infra.prisma, changed);
  const projection = new StockProjection(
    infra.prisma,
    infra.redis,
    config.REDIS_KEY_PREFIX,
    new InventoryClient(
      new SubgraphClient({ name: 'inventory', url: config.INVENTORY_URL, serviceToken: () => infra.jwt.signService('catalog'), timeoutMs: config.SERVICE_CALL_TIMEOUT_MS }),
    ),
    infra.logger,
    config.CATALOG_STOCK_RESYNC_SECONDS * 1000,
    changed,
    infra.metrics,
  );
  projection.start();
  return startSubgraph({
    name: 'catalog',
    typeDefs: loadTypeDefs(CATALOG_SCHEMA_FILE),
    resolvers,
    jwt: infra.jwt,
    logger: infra.logger,
    port: config.CATALOG_PORT,
    host: config.CATALOG_HOST,
    readiness: infra.readiness,
    metrics: infra.metrics,
    shutdown: config,
    queryCount: infra.queryCount,
    onStop: async () => {
      await projection.stop();
      await infra.close();
    },
    context: (base) => createCatalogContext(base, services),
  });
}
