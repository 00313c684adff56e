import type { Redis } from '../../../kernel/src/redis';
import type { Logger } from '../../../kernel/src/logger';
import { StreamConsumer, processConsumerName } from '../../../kernel/src/events/consumer';
import { isEvent, type EventEnvelope } from '../../../kernel/src/events/envelope';
import { confirmationRequested, orderPlaced, statusChanged, type NotificationDraft } from './messages';
import type { NotificationService } from './notifications';

export const ORDER_NOTIFICATIONS_GROUP = 'notification-orders';

/**
 * The order stream as people hear it: the owner of a new order is asked to confirm (with buttons)
 * and told of each later status; admins are told of each new order.
 */
export class OrderNotifications {
  private readonly consumer: StreamConsumer;

  constructor(
    redis: Redis,
    keyPrefix: string,
    private readonly notifications: NotificationService,
    private readonly admins: { adminUserIds(): Promise<string[]> },
    logger: Logger,
  ) {
    this.consumer = new StreamConsumer({
      redis,
      keyPrefix,
      stream: 'order',
      group: ORDER_NOTIFICATIONS_GROUP,
      consumer: processConsumerName('notification'),
      logger,
      handle: (event) => this.handle(event),
    });
  }

  start(): void {
    this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  private async handle(event: EventEnvelope): Promise<void> {
    const drafts = await this.draftsFor(event);
    if (drafts.length > 0) await this.notifications.recordFromEvent(ORDER_NOTIFICATIONS_GROUP, event.id, drafts);
  }

  private async draftsFor(event: EventEnvelope): Promise<NotificationDraft[]> {
    if (isEvent(event, 'OrderPlaced')) {
      const admins = await this.admins.adminUserIds();
      return [confirmationRequested(event.payload), ...admins.map((adminId) => orderPlaced(event.payload, adminId))];
    }
    if (isEvent(event, 'OrderConfirmed') || isEvent(event, 'OrderCancelled') || isEvent(event, 'OrderFulfilled')) {
      return [statusChanged(event.payload)];
    }
    return [];
  }
}
