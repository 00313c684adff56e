import { z } from 'zod';
import { commonConfigShape, env, loadConfig } from '../../../kernel/src/config';
import { jwtConfigShape } from '../../../kernel/src/jwt';

export const catalogConfigShape = {
  ...commonConfigShape,
  ...jwtConfigShape,
  CATALOG_PORT: env.port(4002),
  CATALOG_HOST: z.string().default('127.0.0.1'),
};

export const loadCatalogConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(catalogConfigShape, source);
export type CatalogConfig = ReturnType<typeof loadCatalogConfig>;
