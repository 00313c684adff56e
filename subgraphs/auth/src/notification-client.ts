import type { SubgraphClient } from '../../../kernel/src/subgraph-client';
import { SendLoginCodeDocument } from '../../../generated/graphql/auth/notification-client';
import type { OtpDelivery } from './otp-delivery';

/**
 * The notification service is the one that talks to Telegram: it sends the code at once and says
 * whether Telegram took it; a failure rejects (the login service logs it).
 */
export class NotificationOtpDelivery implements OtpDelivery {
  constructor(private readonly notification: SubgraphClient) {}

  async send(chatId: bigint, _phone: string, code: string, ttlSeconds: number): Promise<void> {
    const { sendLoginCode } = await this.notification.data(SendLoginCodeDocument, { chatId: chatId.toString(), code, ttlSeconds });
    if (sendLoginCode !== true) throw new Error('the notification service did not send the code');
  }
}
