import type { Logger } from '../../../kernel/src/logger';
import type { Redis } from '../../../kernel/src/redis';
import { liveChannel, type ProductChanged } from '../../../kernel/src/events/envelope';

/** Told after a product change has committed. */
export type ProductChangeListener = (productId: string) => Promise<void>;

/**
 * Announces committed product changes on the `productChanged` live channel, which gateways read to
 * evict their cached responses. Best effort: a lost message leaves a cached response stale for at
 * most its max age (Product's @cacheControl), so a failure is logged, never the writer's error.
 */
export function productChangeAnnouncer(redis: Redis, keyPrefix: string, logger: Logger): ProductChangeListener {
  const channel = liveChannel(keyPrefix, 'productChanged');
  return async (productId) => {
    const message: ProductChanged = { productId, at: new Date().toISOString() };
    try {
      await redis.publish(channel, JSON.stringify(message));
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : error, productId }, 'product change not announced; cached responses expire by their max age');
    }
  };
}
