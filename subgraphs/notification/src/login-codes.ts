import { TelegramApiError, type Api } from 'node-telegram-bot-api';
import type { Logger } from '../../../kernel/src/logger';
import { Metrics } from '../../../kernel/src/metrics';
import { AppError, ErrorCode, badUserInput } from '../../../kernel/src/errors';
import type { TelegramChats } from './telegram-chats';

const unavailable = () => new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'We could not reach Telegram to send your code; try again in a minute.');

/**
 * The auth service's one-time codes, sent while it waits: the person is looking at the login form,
 * so the answer is now or never (no queue, no feed: a code is a secret).
 */
export class LoginCodes {
  private readonly sends: { inc(labels: { outcome: 'sent' | 'failed' | 'blocked' }): void };

  constructor(
    /** Few retries and a short timeout: the auth service's request is waiting. */
    private readonly api: Api | undefined,
    private readonly chats: TelegramChats,
    private readonly logger: Logger,
    metrics: Metrics = new Metrics(),
  ) {
    this.sends = metrics.counter(
      'shop_telegram_login_codes_total',
      'Login codes sent to Telegram while the login form waits: sent, failed (Telegram refused or could not be reached), blocked (the chat blocked the bot)',
      ['outcome'],
    );
  }

  async send(chatId: string, code: string, ttlSeconds: number): Promise<boolean> {
    if (!/^-?\d{1,18}$/.test(chatId)) throw badUserInput('chatId', `"${chatId}" is not a Telegram chat id.`);
    if (!this.api) throw new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'Telegram is not configured here (TELEGRAM_BOT_TOKEN is not set).');
    try {
      await this.api.sendMessage({
        chat_id: Number(chatId),
        text: `Your login code: ${code}\nIt works once, for ${Math.round(ttlSeconds / 60)} minutes. Never share it with anyone.`,
        protect_content: true,
      });
      this.sends.inc({ outcome: 'sent' });
      return true;
    } catch (error) {
      const blocked = error instanceof TelegramApiError && error.errorCode === 403;
      this.sends.inc({ outcome: blocked ? 'blocked' : 'failed' });
      if (blocked) {
        await this.chats.markBlocked(BigInt(chatId)).catch((e: unknown) => this.logger.warn({ err: e }, 'could not mark a chat blocked'));
      }
      this.logger.warn({ err: error instanceof Error ? error.message : error }, 'could not send a login code through Telegram');
      throw unavailable();
    }
  }
}
