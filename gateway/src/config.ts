import path from 'node:path';
import { z } from 'zod';
import { env, loadConfig } from '../../kernel/src/config';
import { jwtConfigShape } from '../../kernel/src/jwt';

const optionalUrl = () => env.url().optional();

export const gatewayConfigShape = {
  NODE_ENV: env.nodeEnv(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, { message: 'must be a redis:// URL' }).default('redis://127.0.0.1:6379'),
  REDIS_KEY_PREFIX: z.string().default('shop:'),
  ...jwtConfigShape,
  GATEWAY_PORT: env.port(4000),
  GATEWAY_HOST: z.string().default('127.0.0.1'),
  SUPERGRAPH_FILE: z.string().default(path.resolve(__dirname, '../../supergraph.graphql')),
  /** Apollo Sandbox on GET /graphql; on by default outside production. */
  APOLLO_SANDBOX: z.enum(['true', 'false']).optional(),
  /** Override a subgraph's routing_url from supergraph.graphql. */
  AUTH_URL: optionalUrl(),
  CATALOG_URL: optionalUrl(),
  INVENTORY_URL: optionalUrl(),
  ORDER_URL: optionalUrl(),
  NOTIFICATION_URL: optionalUrl(),
};

export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(gatewayConfigShape, source);
  return {
    ...config,
    sandbox: config.APOLLO_SANDBOX ? config.APOLLO_SANDBOX === 'true' : config.NODE_ENV !== 'production',
    subgraphUrls: {
      auth: config.AUTH_URL,
      catalog: config.CATALOG_URL,
      inventory: config.INVENTORY_URL,
      order: config.ORDER_URL,
      notification: config.NOTIFICATION_URL,
    } as Record<string, string | undefined>,
  };
}
export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
