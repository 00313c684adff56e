import Redis, { type RedisOptions } from 'ioredis';
import type { Logger } from './logger';

export type { Redis };

/**
 * The one way to open a Redis connection. It reconnects forever with a capped backoff and
 * logs (once per outage) instead of crashing, so a service outlives a Redis restart.
 */
export function createRedis(url: string, logger: Logger, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...options,
  });
  let down = false;
  client.on('error', (error: Error) => {
    if (down) return;
    down = true;
    logger.warn(
      { err: error.message },
      `Redis at ${url} cannot be reached; start one with: redis-server --port ${new URL(url).port || 6379} --save ""`,
    );
  });
  client.on('ready', () => {
    if (down) logger.info('Redis is reachable again');
    down = false;
  });
  return client;
}

/**
 * Another connection to the same Redis (for SUBSCRIBE, or blocking reads). `duplicate()` copies the
 * options, not the listeners: without one, ioredis prints every failed reconnect of an outage to stderr.
 * The client it copies logs the outage, once.
 */
export function duplicateRedis(client: Redis): Redis {
  const copy = client.duplicate();
  copy.on('error', () => undefined);
  return copy;
}

/** True when Redis answers PING within the timeout. */
export async function redisReachable(client: Redis, timeoutMs = 1000): Promise<boolean> {
  try {
    const pong = await Promise.race([
      client.ping(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref()),
    ]);
    return pong === 'PONG';
  } catch {
    return false;
  }
}
