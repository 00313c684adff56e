import type { SubgraphClient } from '../../../kernel/src/subgraph-client';
import type { Logger } from '../../../kernel/src/logger';

/** Where one-time codes go: the person's Telegram chat, or (development without a bot) the log. */
export interface OtpDelivery {
  send(chatId: bigint, phone: string, code: string, ttlSeconds: number): Promise<void>;
}

const SEND_LOGIN_CODE = /* GraphQL */ `
  mutation SendLoginCode($chatId: String!, $code: String!, $ttlSeconds: Int!) {
    sendLoginCode(chatId: $chatId, code: $code, ttlSeconds: $ttlSeconds)
  }
`;

/**
 * The notification service is the one that talks to Telegram: it sends the code at once and says
 * whether Telegram took it; a failure rejects (the login service logs it).
 */
export class NotificationOtpDelivery implements OtpDelivery {
  constructor(private readonly notification: SubgraphClient) {}

  async send(chatId: bigint, _phone: string, code: string, ttlSeconds: number): Promise<void> {
    const { sendLoginCode } = await this.notification.data<{ sendLoginCode: boolean }>(SEND_LOGIN_CODE, { chatId: chatId.toString(), code, ttlSeconds });
    if (sendLoginCode !== true) throw new Error('the notification service did not send the code');
  }
}

/** Development only (no TELEGRAM_BOT_TOKEN): the code is written to the auth service's log. */
export class LogOtpDelivery implements OtpDelivery {
  constructor(private readonly logger: Logger) {}

  async send(_chatId: bigint, phone: string, code: string): Promise<void> {
    this.logger.warn(`[dev] login code for ${phone}: ${code} (TELEGRAM_BOT_TOKEN is not set, so codes are logged instead of sent)`);
  }
}
