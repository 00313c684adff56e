import { z } from 'zod';
import { env, loadConfig, metricsConfigShape, shutdownConfigShape } from '../../kernel/src/config';
import { jwtConfigShape } from '../../kernel/src/jwt';
import { MAX_BODY_BYTES } from '../../kernel/src/http';
import { projectPath } from '../../kernel/src/project-root';
import type { OperationLimits } from './operation-limits';

const optionalUrl = () => env.url().optional();

export const gatewayConfigShape = {
  ...shutdownConfigShape,
  NODE_ENV: env.nodeEnv(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Append log lines to this file instead of writing them to stdout. */
  LOG_FILE: z.string().optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, { message: 'must be a redis:// URL' }).default('redis://127.0.0.1:6379'),
  REDIS_KEY_PREFIX: z.string().default('shop:'),
  ...jwtConfigShape,
  ...metricsConfigShape,
  GATEWAY_PORT: env.port(4000),
  GATEWAY_HOST: z.string().default('127.0.0.1'),
  SUPERGRAPH_FILE: z.string().default(projectPath('supergraph.graphql')),
  /** Read the supergraph from this URL (a schema registry, say) instead of SUPERGRAPH_FILE. */
  SUPERGRAPH_URL: optionalUrl(),
  /** How often the supergraph file (or URL) is checked: a new version is served without a restart. */
  SUPERGRAPH_POLL_INTERVAL_MS: env.positiveInt(2_000),
  /** Apollo Sandbox on GET /graphql; on by default outside production. */
  APOLLO_SANDBOX: z.enum(['true', 'false']).optional(),
  /** Schema introspection (what Sandbox and codegen read); on by default outside production. */
  GRAPHQL_INTROSPECTION: z.enum(['true', 'false']).optional(),
  /** Peers whose X-Forwarded-For is believed (proxy-addr syntax: loopback, 10.0.0.0/8, an address); empty = none. */
  TRUSTED_PROXIES: env.list(),

  // Operation limits: a refused operation never reaches a subgraph (README, "Limits and production settings").
  MAX_QUERY_TOKENS: env.positiveInt(2000),
  MAX_FIELD_REPEATS: env.positiveInt(20),
  MAX_QUERY_DEPTH: env.positiveInt(12),
  MAX_QUERY_ALIASES: env.positiveInt(30),
  MAX_ROOT_FIELDS: env.positiveInt(10),
  MAX_QUERY_DIRECTIVES: env.positiveInt(30),
  MAX_QUERY_COST: env.positiveInt(10_000),
  DEFAULT_LIST_SIZE: env.positiveInt(10),
  /** A subgraph that has not answered by then gives SERVICE_UNAVAILABLE for its part of the response. */
  SUBGRAPH_TIMEOUT_MS: env.positiveInt(10_000),
  /** Identical query fetches in flight at once (same subgraph, caller, document, variables) share one request. */
  SUBGRAPH_DEDUPE_QUERIES: z.enum(['true', 'false']).default('true'),

  // Websockets (subscriptions).
  WS_MAX_MESSAGE_BYTES: env.positiveInt(MAX_BODY_BYTES),
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: env.positiveInt(50),
  /** Events waiting for a slow subscriber; past this the socket is closed (4429) rather than buffered. */
  WS_MAX_QUEUED_EVENTS: env.positiveInt(200),
  /** Open websockets and event streams per client address (IPv4, or IPv6 /64): generous, since NAT and proxies put many people behind one. */
  WS_MAX_SOCKETS_PER_ADDRESS: env.positiveInt(500),

  /** Mutation root fields per minute, per logged-in user and per client address (IPv4, or IPv6 /64). */
  MUTATION_RATE_PER_USER_PER_MINUTE: env.positiveInt(600),
  MUTATION_RATE_PER_ADDRESS_PER_MINUTE: env.positiveInt(3000),
  /** The shared response cache in Redis (README, "Response cache"); `false` turns it off. */
  GATEWAY_RESPONSE_CACHE: z.enum(['true', 'false']).default('true'),
  /** A persisted-query manifest (apollo-persisted-query-manifest): when set, only its operations run. */
  GATEWAY_TRUSTED_DOCUMENTS: z.string().optional(),
  /** Override a subgraph's routing_url from supergraph.graphql. */
  AUTH_URL: optionalUrl(),
  CATALOG_URL: optionalUrl(),
  INVENTORY_URL: optionalUrl(),
  ORDER_URL: optionalUrl(),
  NOTIFICATION_URL: optionalUrl(),
};

export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(gatewayConfigShape, source);
  const production = config.NODE_ENV === 'production';
  return {
    ...config,
    sandbox: config.APOLLO_SANDBOX ? config.APOLLO_SANDBOX === 'true' : !production,
    introspection: config.GRAPHQL_INTROSPECTION ? config.GRAPHQL_INTROSPECTION === 'true' : !production,
    responseCache: config.GATEWAY_RESPONSE_CACHE === 'true',
    dedupeSubgraphQueries: config.SUBGRAPH_DEDUPE_QUERIES === 'true',
    limits: {
      maxTokens: config.MAX_QUERY_TOKENS,
      maxFieldRepeats: config.MAX_FIELD_REPEATS,
      maxDepth: config.MAX_QUERY_DEPTH,
      maxAliases: config.MAX_QUERY_ALIASES,
      maxRootFields: config.MAX_ROOT_FIELDS,
      maxDirectives: config.MAX_QUERY_DIRECTIVES,
      maxCost: config.MAX_QUERY_COST,
      defaultListSize: config.DEFAULT_LIST_SIZE,
    } satisfies OperationLimits,
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
