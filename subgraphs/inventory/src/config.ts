import { z } from 'zod';
import { commonConfigShape, env, loadConfig } from '../../../kernel/src/config';
import { jwtConfigShape } from '../../../kernel/src/jwt';

export const inventoryConfigShape = {
  ...commonConfigShape,
  ...jwtConfigShape,
  DATABASE_ROLE: env.databaseRole('shop_inventory'),
  INVENTORY_PORT: env.port(4003),
  INVENTORY_HOST: z.string().default('127.0.0.1'),
  /** How long a reservation holds stock before the service releases it by itself. */
  RESERVATION_TTL_SECONDS: env.positiveInt(900),
  /** How often expired reservations are looked for. */
  RESERVATION_SWEEP_INTERVAL_MS: env.positiveInt(5000),
};

export const loadInventoryConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(inventoryConfigShape, source);
export type InventoryConfig = ReturnType<typeof loadInventoryConfig>;
