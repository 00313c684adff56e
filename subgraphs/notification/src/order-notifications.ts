import type { Redis } from '../../../kernel/src/redis';
import type { Logger } from '../../../kernel/src/logger';
import type { Metrics } from '../../../kernel/src/metrics';
import { StreamSubscriber } from '../../../kernel/src/events/consumer';
import { isEvent, type EventEnvelope } from '../../../kernel/src/events/envelope';
import { confirmationRequested, orderPlaced, statusChanged } from './messages';
import type { NewOrderDigest } from './new-order-digest';
import type { NotificationService } from './notifications';

export const ORDER_NOTIFICATIONS_GROUP = 'notification-orders';

/**
 * The order stream as people hear it: the owner of a new order is asked to confirm (with buttons)
 * and told of each later status; admins are told of new orders, a flood of them in summaries (NewOrderDigest).
 */
export class OrderNotifications extends StreamSubscriber {
  constructor(
    redis: Redis,
    keyPrefix: string,
    private readonly notifications: NotificationService,
    private readonly admins: { adminUserIds(): Promise<string[]> },
    private readonly digest: NewOrderDigest,
    logger: Logger,
    metrics?: Metrics,
  ) {
    super({ redis, keyPrefix, logger, metrics, service: 'notification', stream: 'order', group: ORDER_NOTIFICATIONS_GROUP });
  }

  protected async handle(event: EventEnvelope): Promise<void> {
    if (isEvent(event, 'OrderPlaced')) {
      // Asked before the transaction: if auth is down, the event is retried with nothing counted.
      const admins = await this.admins.adminUserIds();
      await this.notifications.recordFromEvent(ORDER_NOTIFICATIONS_GROUP, event.id, async (tx) => [
        confirmationRequested(event.payload),
        ...(await this.digest.tellAtOnce(tx, event, admins)).map((adminId) => orderPlaced(event.payload, adminId)),
      ]);
      return;
    }
    if (isEvent(event, 'OrderConfirmed') || isEvent(event, 'OrderCancelled') || isEvent(event, 'OrderFulfilled')) {
      await this.notifications.recordFromEvent(ORDER_NOTIFICATIONS_GROUP, event.id, [statusChanged(event.payload)]);
    }
  }
}
