import type { Express } from 'express';
import { Bot, type Context } from 'node-telegram-bot-api';
import type { Logger } from '../../../kernel/src/logger';
import { ErrorCode } from '../../../kernel/src/errors';
import { SpanKind, inSpan } from '../../../kernel/src/request-context';
import { OrderButtons } from './order-buttons';
import { SubgraphRefusal } from '../../../kernel/src/subgraph-client';
import type { AuthUsers } from './auth-client';
import type { OrderResponses } from './order-client';
import type { TelegramChats } from './telegram-chats';
import { mountTelegramWebhook } from './telegram-webhook';

export interface NotificationBotOptions {
  token: string;
  apiRoot: string;
  webhookUrl?: string;
  webhookSecret: string;
}

const TRY_AGAIN = 'Something went wrong on our side; please try again in a minute.';
/** Refusals that are about our own request, not about the person's order: they get TRY_AGAIN, and the log the details. */
const NOT_FOR_THE_PERSON = new Set<string | undefined>([undefined, ErrorCode.INTERNAL_SERVER_ERROR, ErrorCode.UNAUTHENTICATED, 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST']);
/** answerCallbackQuery takes at most 200 characters. */
/** The kind of an update (message, callback_query, ...): the one field it has besides update_id. */
const updateType = (update: object) => Object.keys(update).find((key) => key !== 'update_id') ?? 'unknown';

const clip = (text: string) => (text.length > 200 ? `${text.slice(0, 197)}...` : text);

const OUTCOMES: Record<string, { answer: string; mark: string }> = {
  CONFIRMED: { answer: 'Confirmed. Thank you!', mark: '✅ Confirmed' },
  CANCELLED: { answer: 'Cancelled.', mark: '❌ Cancelled' },
  FAILED: { answer: 'The order could not be completed.', mark: '⚠️ Could not be completed' },
};

/**
 * The shop's Telegram bot. /start asks the person to share their own contact; sharing it binds this
 * chat to that phone (the auth service creates the user), so login codes and notifications reach
 * them here. The Confirm / Cancel buttons under an order answer the order service for them.
 */
export class NotificationBot {
  readonly bot: Bot;
  private polling?: Promise<void>;

  constructor(
    private readonly options: NotificationBotOptions,
    private readonly users: AuthUsers,
    private readonly chats: TelegramChats,
    private readonly orders: OrderResponses,
    private readonly logger: Logger,
  ) {
    this.bot = new Bot(options.token, { apiRoot: options.apiRoot });
    // Each update is a span: in a trace of its own when read by long polling, under the HTTP request's with a webhook.
    this.bot.use((ctx, next) =>
      inSpan('telegram update', { kind: SpanKind.CONSUMER, attributes: { 'telegram.update_id': ctx.update.update_id, 'telegram.update_type': updateType(ctx.update) } }, () => next()),
    );
    this.bot.command('start', (ctx) => this.onStart(ctx));
    this.bot.on('message', (ctx, next) => (ctx.message?.contact ? this.onContact(ctx) : next()));
    this.bot.on('callback_query', (ctx) => this.onButton(ctx));
    this.bot.catch((error, ctx) => {
      this.logger.error({ err: error, updateId: ctx.update.update_id }, 'telegram update failed');
    });
  }

  /** In webhook mode, serves the webhook URL's path on `app` (Telegram POSTs updates there). */
  mountWebhook(app: Express): void {
    const { webhookUrl, webhookSecret } = this.options;
    if (!webhookUrl) return;
    mountTelegramWebhook(app, {
      path: new URL(webhookUrl).pathname,
      secret: webhookSecret,
      handleUpdate: (update) => this.bot.handleUpdate(update),
      logger: this.logger,
    });
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
    // Writing to the bot again undoes a block: notifications may reach this chat again.
    if (ctx.chatId !== undefined) await this.chats.unblock(BigInt(ctx.chatId));
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
    const chat = ctx.chat;
    if (!from || !chat || contact.user_id !== from.id || chat.type !== 'private') {
      await ctx.reply('Please share your own phone number with the button, not someone else\'s contact.');
      return;
    }
    const chatId = BigInt(chat.id);
    const telegramUserId = BigInt(from.id);
    let user: { id: string; phone: string };
    try {
      user = await this.users.bindTelegram({ phone: contact.phone_number, chatId, telegramUserId });
      await this.chats.bind(user.id, chatId, telegramUserId);
    } catch (error) {
      if (error instanceof SubgraphRefusal && error.code === ErrorCode.BAD_USER_INPUT) {
        await ctx.reply('That phone number does not look valid. Please try again with the button.');
        return;
      }
      this.logger.error({ err: error }, 'could not bind a telegram chat');
      await ctx.reply(TRY_AGAIN);
      return;
    }
    this.logger.info({ userId: user.id }, 'telegram chat bound');
    await ctx.reply(`Done: ${user.phone} is linked to this chat. Log in on the website with this number and we will send your code here.`, {
      reply_markup: { remove_keyboard: true },
    });
  }

  /** A Confirm / Cancel press: the order service decides; the message loses its buttons once answered. */
  private async onButton(ctx: Context): Promise<void> {
    const query = ctx.callbackQuery!;
    const pressed = OrderButtons.parse(query.data);
    if (!pressed) {
      await ctx.answerCallbackQuery({ text: 'This button no longer does anything.' });
      return;
    }
    const chatId = query.message?.chat.id ?? query.from.id;
    const chat = await this.chats.findByChat(BigInt(chatId));
    if (!chat || chat.telegramUserId !== BigInt(query.from.id)) {
      await ctx.answerCallbackQuery({ text: 'This chat is not linked to a shop account: send /start and share your phone number.', show_alert: true });
      return;
    }
    let status: string;
    try {
      ({ status } = await this.orders.respond(pressed.orderId, chat.userId, pressed.confirm));
    } catch (error) {
      const refused = error instanceof SubgraphRefusal && !NOT_FOR_THE_PERSON.has(error.code);
      if (!refused) this.logger.error({ err: error, orderId: pressed.orderId }, 'could not answer an order from telegram');
      await ctx.answerCallbackQuery({ text: clip(refused ? error.message : TRY_AGAIN), show_alert: true });
      return;
    }
    const outcome = OUTCOMES[status] ?? { answer: `The order is ${status.toLowerCase()}.`, mark: `Order ${status.toLowerCase()}` };
    await ctx.answerCallbackQuery({ text: outcome.answer });
    if (query.message && 'text' in query.message && query.message.text) {
      // Without reply_markup the edit removes the buttons.
      await this.bot.api
        .editMessageText({ chat_id: query.message.chat.id, message_id: query.message.message_id, text: `${query.message.text}\n\n${outcome.mark}` })
        .catch((error: unknown) => this.logger.warn({ err: error }, 'could not edit the order message'));
    }
  }
}
