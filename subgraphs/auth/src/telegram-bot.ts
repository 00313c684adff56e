import type { Express } from 'express';
import { Bot, registerExpressWebhook, type Context } from 'node-telegram-bot-api';
import type { Logger } from '../../../kernel/src/logger';
import { isAppError } from '../../../kernel/src/errors';
import { normalizeTelegramPhone } from './phone';
import type { UserService } from './users';

export interface BindingBotOptions {
  token: string;
  apiRoot: string;
  webhookUrl?: string;
  webhookSecret: string;
  defaultRegion?: string;
}

/**
 * The login bot: /start asks the person to share their own contact; sharing it binds this chat
 * to that phone (creating the user), so one-time codes can be sent here.
 */
export class BindingBot {
  readonly bot: Bot;
  private polling?: Promise<void>;

  constructor(
    private readonly options: BindingBotOptions,
    private readonly users: UserService,
    private readonly logger: Logger,
  ) {
    this.bot = new Bot(options.token, { apiRoot: options.apiRoot });
    this.bot.command('start', (ctx) => this.onStart(ctx));
    this.bot.on('message', (ctx, next) => (ctx.message?.contact ? this.onContact(ctx) : next()));
    this.bot.catch((error, ctx) => {
      this.logger.error({ err: error, updateId: ctx.update.update_id }, 'telegram update failed');
    });
  }

  /** In webhook mode, serves the webhook URL's path on `app` (Telegram POSTs updates there). */
  mountWebhook(app: Express): void {
    const { webhookUrl, webhookSecret } = this.options;
    if (!webhookUrl) return;
    registerExpressWebhook(this.bot, app, { path: new URL(webhookUrl).pathname, secretToken: webhookSecret });
  }

  /** Registers the webhook when one is configured; otherwise long-polls (and removes any old webhook). */
  async start(): Promise<void> {
    const { webhookUrl, webhookSecret } = this.options;
    if (webhookUrl) {
      await this.bot.api.setWebhook({ url: webhookUrl, secret_token: webhookSecret, allowed_updates: ['message', 'callback_query'] });
      this.logger.info({ webhookUrl }, 'telegram bot receiving updates by webhook');
      return;
    }
    await this.bot.api.deleteWebhook({});
    this.polling = this.bot.startPolling(undefined, {
      timeout: 25,
      allowedUpdates: ['message', 'callback_query'],
      onError: (error) => this.logger.warn({ err: error }, 'telegram polling error; retrying'),
    });
    this.polling.catch((error: unknown) => this.logger.error({ err: error }, 'telegram polling stopped'));
    this.logger.info('telegram bot polling for updates');
  }

  async stop(): Promise<void> {
    this.bot.stop();
    await this.polling?.catch(() => undefined);
  }

  private async onStart(ctx: Context): Promise<void> {
    await ctx.reply('Welcome! To log in to the shop with this Telegram account, share your phone number with the button below.', {
      reply_markup: {
        keyboard: [[{ text: 'Share my phone number', request_contact: true }]],
        resize_keyboard: true,
        one_time_keyboard: true,
      },
    });
  }

  private async onContact(ctx: Context): Promise<void> {
    const contact = ctx.message!.contact!;
    const from = ctx.from;
    if (!from || contact.user_id !== from.id || ctx.chat?.type !== 'private') {
      await ctx.reply('Please share your own phone number with the button, not someone else\'s contact.');
      return;
    }
    let phone: string;
    try {
      phone = normalizeTelegramPhone(contact.phone_number, this.options.defaultRegion);
    } catch (error) {
      if (!isAppError(error)) throw error;
      await ctx.reply('That phone number does not look valid. Please try again with the button.');
      return;
    }
    const user = await this.users.bindTelegram({ phone, chatId: ctx.chat.id, telegramUserId: from.id });
    this.logger.info({ userId: user.id }, 'telegram chat bound');
    await ctx.reply(`Done: ${phone} is linked to this chat. Log in on the website with this number and we will send your code here.`, {
      reply_markup: { remove_keyboard: true },
    });
  }
}
