import { z } from 'zod';
import { commonConfigShape, env, loadConfig } from '../../../kernel/src/config';
import { jwtConfigShape } from '../../../kernel/src/jwt';

export const catalogConfigShape = {
  ...commonConfigShape,
  ...jwtConfigShape,
  DATABASE_ROLE: env.databaseRole('shop_catalog'),
  CATALOG_PORT: env.port(4002),
  CATALOG_HOST: z.string().default('127.0.0.1'),
  /** The inventory subgraph, read in full to rebuild the inStock projection. */
  INVENTORY_URL: env.url().default('http://127.0.0.1:4003/graphql'),
  /** How often the inStock projection is checked against the inventory, repairing what lost events left. */
  CATALOG_STOCK_RESYNC_SECONDS: env.positiveInt(300),
};

export const loadCatalogConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(catalogConfigShape, source);
export type CatalogConfig = ReturnType<typeof loadCatalogConfig>;
