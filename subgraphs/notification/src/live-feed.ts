import type { Notification } from '../../../kernel/src/prisma';
import type { Redis } from '../../../kernel/src/redis';
import type { Logger } from '../../../kernel/src/logger';
import { liveChannel } from '../../../kernel/src/events/envelope';
import { badUserInput } from '../../../kernel/src/errors';
import { isUuid } from '../../../kernel/src/ids';

/** What goes out on the `notificationReceived` live channel; the gateway hands it back to `_notificationFromEvent`. */
export interface NotificationReceived {
  userId: string;
  notificationId: string;
}

/** Tells the gateway's `notificationReceived` subscribers of new notifications (best effort: nothing is kept for absent listeners). */
export class LiveFeed {
  private readonly channel: string;

  constructor(
    private readonly redis: Redis,
    keyPrefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = liveChannel(keyPrefix, 'notificationReceived');
  }

  /** Call after the rows have committed. Never throws: the feed in the database is what lasts. */
  async publish(notifications: readonly Notification[]): Promise<void> {
    if (notifications.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const n of notifications) {
      const message: NotificationReceived = { userId: n.userId, notificationId: n.id };
      // graphql-redis-subscriptions' format: JSON of the payload.
      pipeline.publish(this.channel, JSON.stringify(message));
    }
    try {
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error);
      if (failed) throw failed[0];
    } catch (error) {
      this.logger.warn({ err: error, count: notifications.length }, 'could not publish new notifications to the live feed');
    }
  }
}

/** The `event` argument of `_notificationFromEvent`. */
export function parseNotificationReceived(raw: string): NotificationReceived {
  try {
    const event = JSON.parse(raw) as Partial<NotificationReceived> | null;
    if (event && typeof event.userId === 'string' && typeof event.notificationId === 'string' && isUuid(event.notificationId)) {
      return { userId: event.userId, notificationId: event.notificationId };
    }
  } catch {
    // fall through
  }
  throw badUserInput('event', 'Not a notificationReceived event.');
}
