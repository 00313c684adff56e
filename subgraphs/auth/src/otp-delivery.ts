import { Api } from 'node-telegram-bot-api';
import type { Logger } from '../../../kernel/src/logger';
import { AppError, ErrorCode } from '../../../kernel/src/errors';

/** Where one-time codes go: the person's Telegram chat, or (development without a bot) the log. */
export interface OtpDelivery {
  send(chatId: bigint, phone: string, code: string, ttlSeconds: number): Promise<void>;
}

export class TelegramOtpDelivery implements OtpDelivery {
  constructor(
    private readonly api: Api,
    private readonly logger: Logger,
  ) {}

  async send(chatId: bigint, _phone: string, code: string, ttlSeconds: number): Promise<void> {
    try {
      await this.api.sendMessage({
        chat_id: Number(chatId),
        text: `Your login code: ${code}\nIt works once, for ${Math.round(ttlSeconds / 60)} minutes. Never share it with anyone.`,
        protect_content: true,
      });
    } catch (error) {
      this.logger.warn({ err: error }, 'could not send a login code through Telegram');
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
