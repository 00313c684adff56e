import { z } from 'zod';
import { commonConfigShape, env, loadConfig } from '../../../kernel/src/config';
import { jwtConfigShape } from '../../../kernel/src/jwt';

export const notificationConfigShape = {
  ...commonConfigShape,
  ...jwtConfigShape,
  DATABASE_ROLE: env.databaseRole('shop_notification'),
  NOTIFICATION_PORT: env.port(4005),
  NOTIFICATION_HOST: z.string().default('127.0.0.1'),
  /** The auth subgraph: binds Telegram chats to users, and knows who the admins are. */
  AUTH_URL: env.url().default('http://127.0.0.1:4001/graphql'),
  /** The order subgraph: the Confirm / Cancel buttons answer there. */
  ORDER_URL: env.url().default('http://127.0.0.1:4004/graphql'),
  /** The shop's bot (from @BotFather); unset outside production means nothing is sent to Telegram. */
  TELEGRAM_BOT_TOKEN: z.string().regex(/^\d+:[\w-]+$/, { message: 'must look like 123456:ABC-DEF' }).optional(),
  TELEGRAM_API_BASE_URL: env.url().default('https://api.telegram.org'),
  /** Set to receive updates by webhook (the path of this URL is served by the notification service); unset means polling. */
  TELEGRAM_WEBHOOK_URL: env.url().optional(),
  TELEGRAM_WEBHOOK_SECRET: z.string().regex(/^[A-Za-z0-9_-]{16,256}$/, { message: 'must be 16-256 of A-Z a-z 0-9 _ -' }).optional(),
  /** How often the sender looks for notifications due to go to Telegram. */
  TELEGRAM_SEND_INTERVAL_MS: env.positiveInt(500),
  /** Attempts per message before it is given up as FAILED (a 429 does not count: Telegram said when). */
  TELEGRAM_MAX_ATTEMPTS: env.positiveInt(8),
  /** Chats the sender sends to at once (each chat's messages one after another); Telegram allows about 30 messages a second per bot. */
  TELEGRAM_SEND_CONCURRENCY: env.positiveInt(8),
  /** Per admin, the first new order of each window of this many seconds is told at once, the rest in one summary after it; 0 tells each order. */
  NOTIFICATION_NEW_ORDER_WINDOW_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
};

export type NotificationConfig = ReturnType<typeof loadNotificationConfig>;

export function loadNotificationConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(notificationConfigShape, source);
  if (config.NODE_ENV === 'production' && !config.TELEGRAM_BOT_TOKEN) {
    throw new Error('Invalid configuration: TELEGRAM_BOT_TOKEN is required in production');
  }
  return config;
}
