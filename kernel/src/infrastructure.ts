import { createLogger, type Logger } from './logger';
import { JwtService, type JwtConfig } from './jwt';
import { createPrisma, databaseReachable, type PrismaClient } from './prisma';
import { createRedis, redisReachable, type Redis } from './redis';
import type { ReadinessCheck } from './http';
import { Metrics, metricsEndpointOf } from './metrics';
import { OutboxRelay, type OutboxRelayOptions } from './events/outbox';

/** What every service opens at start: its logger, database, Redis and JWT library. */
export interface Infrastructure {
  logger: Logger;
  prisma: PrismaClient;
  redis: Redis;
  jwt: JwtService;
  readiness: Record<string, ReadinessCheck>;
  /** This service's Prometheus metrics (its database pool's among them), served by startSubgraph. */
  metrics: Metrics;
  /** SQL statements this process has sent (for tests that prove there is no N+1). */
  queryCount(): number;
  close(): Promise<void>;
}

export async function openInfrastructure(
  service: string,
  config: JwtConfig & {
    DATABASE_URL: string;
    DATABASE_ROLE?: string;
    DATABASE_POOL_SIZE: number;
    DATABASE_NAMED_STATEMENTS?: boolean;
    REDIS_URL: string;
    LOG_LEVEL: string;
    LOG_FILE?: string;
    METRICS_TOKEN?: string;
    METRICS_PORT?: number;
    NODE_ENV?: string;
  },
  logger: Logger = createLogger(service, config.LOG_LEVEL, config.LOG_FILE, config.NODE_ENV),
): Promise<Infrastructure> {
  const jwt = await JwtService.create(config);
  let queries = 0;
  const metrics = new Metrics({ endpoint: metricsEndpointOf(config) });
  const prisma = createPrisma(config.DATABASE_URL, {
    max: config.DATABASE_POOL_SIZE,
    role: config.DATABASE_ROLE,
    namedStatements: config.DATABASE_NAMED_STATEMENTS,
    onQuery: () => queries++,
    metrics,
  });
  const redis = createRedis(config.REDIS_URL, logger);
  return {
    logger,
    prisma,
    redis,
    jwt,
    metrics,
    readiness: { postgres: () => databaseReachable(prisma), redis: () => redisReachable(redis) },
    queryCount: () => queries,
    close: async () => {
      redis.disconnect();
      await prisma.$disconnect();
    },
  };
}

/**
 * The service's outbox relay, on a small database pool of its own: publishing never waits behind
 * requests (nor counts as theirs). `close` stops the relay, then closes that pool.
 */
export function openOutboxRelay(
  infra: Infrastructure,
  config: { DATABASE_URL: string; DATABASE_ROLE?: string; DATABASE_NAMED_STATEMENTS?: boolean; REDIS_KEY_PREFIX: string },
  schema: string,
  live: OutboxRelayOptions['live'],
): { relay: OutboxRelay; close(): Promise<void> } {
  const prisma = createPrisma(config.DATABASE_URL, { max: 2, role: config.DATABASE_ROLE, namedStatements: config.DATABASE_NAMED_STATEMENTS, metrics: infra.metrics, pool: 'relay' });
  const relay = new OutboxRelay({ prisma, redis: infra.redis, schema, keyPrefix: config.REDIS_KEY_PREFIX, logger: infra.logger, metrics: infra.metrics, live });
  return {
    relay,
    close: async () => {
      await relay.stop();
      await prisma.$disconnect();
    },
  };
}
