import type { SubgraphClient } from '../../../kernel/src/subgraph-client';
import type { Logger } from '../../../kernel/src/logger';
import { AppError, ErrorCode } from '../../../kernel/src/errors';

/** Where one-time codes go: the person's Telegram chat, or (development without a bot) the log. */
export interface OtpDelivery {
  send(chatId: bigint, phone: string, code: string, ttlSeconds: number): Promise<void>;
}

const SEND_LOGIN_CODE = /* GraphQL */ `
  mutation SendLoginCode($chatId: String!, $code: String!, $ttlSeconds: Int!) {
    sendLoginCode(chatId: $chatId, code: $code, ttlSeconds: $ttlSeconds)
  }
`;

/** Longer than the notification service's own Telegram timeout, so its answer (sent or not) arrives first. */

/**
 * The notification service is the one that talks to Telegram: it sends the code at once and says
 * whether Telegram took it, so a failure reaches the person as SERVICE_UNAVAILABLE.
 */
export class NotificationOtpDelivery implements OtpDelivery {
  constructor(
    private readonly notification: SubgraphClient,
    private readonly logger: Logger,
  ) {}

  async send(chatId: bigint, _phone: string, code: string, ttlSeconds: number): Promise<void> {
    try {
      const { sendLoginCode } = await this.notification.data<{ sendLoginCode: boolean }>(SEND_LOGIN_CODE, { chatId: chatId.toString(), code, ttlSeconds });
      if (sendLoginCode !== true) throw new Error('the notification service did not send the code');
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : error }, 'could not send a login code through Telegram');
      throw new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'We could not reach Telegram to send your code; try again in a minute.');
    }
  }
}

/** Development only (no TELEGRAM_BOT_TOKEN): the code is written to the auth service's log. */
export class LogOtpDelivery implements OtpDelivery {
  constructor(private readonly logger: Logger) {}

  async send(_chatId: bigint, phone: string, code: string): Promise<void> {
    this.logger.warn(`[dev] login code for ${phone}: ${code} (TELEGRAM_BOT_TOKEN is not set, so codes are logged instead of sent)`);
  }
}
