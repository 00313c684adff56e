import { z } from 'zod';
import { commonConfigShape, env, loadConfig } from '../../../kernel/src/config';
import { jwtConfigShape } from '../../../kernel/src/jwt';
import { FAILPOINTS } from './failpoints';

export const orderConfigShape = {
  ...commonConfigShape,
  ...jwtConfigShape,
  DATABASE_ROLE: env.databaseRole('shop_order'),
  ORDER_PORT: env.port(4004),
  ORDER_HOST: z.string().default('127.0.0.1'),
  /** The catalog subgraph: prices and names are snapshotted from it when an order is placed. */
  CATALOG_URL: env.url().default('http://127.0.0.1:4002/graphql'),
  /** The inventory subgraph: the saga reserves, commits and releases stock there. */
  INVENTORY_URL: env.url().default('http://127.0.0.1:4003/graphql'),
  /** How long a user has to confirm an order before it is cancelled and its stock released. */
  ORDER_CONFIRMATION_TIMEOUT_SECONDS: env.positiveInt(900),
  /** Orders one user may have awaiting confirmation (PENDING or AWAITING_CONFIRMATION) at once; another is refused until one is confirmed or cancelled. */
  ORDER_MAX_UNCONFIRMED_PER_USER: env.positiveInt(3),
  /** Tries of a saga step against an unreachable inventory before the saga gives up (and fails or settles the order). */
  ORDER_SAGA_MAX_ATTEMPTS: env.positiveInt(5),
  /** The first retry waits this long, each next one twice as long (up to ORDER_SAGA_RETRY_MAX_MS). */
  ORDER_SAGA_RETRY_BASE_MS: env.positiveInt(500),
  ORDER_SAGA_RETRY_MAX_MS: env.positiveInt(30_000),
  /** While a process runs a saga step it holds the order this long (renewed during the call); a dead process's orders are resumed after it. */
  ORDER_SAGA_LEASE_MS: env.positiveInt(5000),
  /** How often the saga worker resumes interrupted sagas and cancels orders not confirmed in time. */
  ORDER_WORKER_INTERVAL_MS: env.positiveInt(500),
  /** Crash tests only (ignored in production): saga points where the process kills itself with SIGKILL. */
  ORDER_FAILPOINTS: env.list().pipe(z.array(z.enum(FAILPOINTS, { message: `each must be one of ${FAILPOINTS.join(', ')}` }))),
};

export const loadOrderConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(orderConfigShape, source);
export type OrderConfig = ReturnType<typeof loadOrderConfig>;
