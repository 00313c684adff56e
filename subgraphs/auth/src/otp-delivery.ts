import type { Logger } from '../../../kernel/src/logger';

/** Where one-time codes go: the person's Telegram chat, or (development without a bot) the log. */
export interface OtpDelivery {
  send(chatId: bigint, phone: string, code: string, ttlSeconds: number): Promise<void>;
}

/** Development only (no TELEGRAM_BOT_TOKEN): the code is written to the auth service's log. */
export class LogOtpDelivery implements OtpDelivery {
  constructor(private readonly logger: Logger) {}

  async send(_chatId: bigint, phone: string, code: string): Promise<void> {
    this.logger.warn(`[dev] login code for ${phone}: ${code} (TELEGRAM_BOT_TOKEN is not set, so codes are logged instead of sent)`);
  }
}
