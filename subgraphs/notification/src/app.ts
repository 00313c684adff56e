import { createHash } from 'node:crypto';
import { Api } from 'node-telegram-bot-api';
import { openInfrastructure } from '../../../kernel/src/infrastructure';
import { projectPath } from '../../../kernel/src/project-root';
import { loadTypeDefs, startSubgraph, type RunningServer } from '../../../kernel/src/server';
import type { NotificationConfig } from './config';
import { LiveFeed } from './live-feed';
import { LoginCodes } from './login-codes';
import { NotificationService } from './notifications';
import { NewOrderDigest } from './new-order-digest';
import { OrderNotifications } from './order-notifications';
import { resolvers } from './resolvers';
import { LowStockAlerts } from './stock-alerts';
import { AuthUsers } from './auth-client';
import { OrderResponses } from './order-client';
import { SubgraphClient } from '../../../kernel/src/subgraph-client';
import { NotificationBot } from './telegram-bot';
import { TelegramChats } from './telegram-chats';
import { TelegramSender } from './telegram-sender';

export const NOTIFICATION_SCHEMA_FILE = projectPath('subgraphs/notification/schema.graphql');

/**
 * Wires the notification subgraph: the Telegram bot (the only one in the platform), the consumers
 * that turn order and stock events into notifications, the background Telegram sender, the live
 * feed, and the GraphQL server.
 */
export async function startNotificationService(config: NotificationConfig): Promise<RunningServer> {
  const infra = await openInfrastructure('notification', config);
  const { prisma, redis, jwt, logger } = infra;
  const serviceToken = () => jwt.signService('notification');
  const users = new AuthUsers(new SubgraphClient({ name: 'auth', url: config.AUTH_URL, serviceToken, timeoutMs: config.SERVICE_CALL_TIMEOUT_MS }));
  // Telegram forgets a button press it was not answered for within about 15 s.
  const orders = new OrderResponses(new SubgraphClient({ name: 'order', url: config.ORDER_URL, serviceToken, timeoutMs: 12_000 }));
  const chats = new TelegramChats(prisma);
  const live = new LiveFeed(redis, config.REDIS_KEY_PREFIX, logger);

  const token = config.TELEGRAM_BOT_TOKEN;
  // Expected in development (production refuses to start without a token): worth a line, not a warning.
  if (!token) logger.info('TELEGRAM_BOT_TOKEN is not set: nothing is sent to Telegram (development only)');
  const apiRoot = config.TELEGRAM_API_BASE_URL;
  // maxRetries 0: the sender owns retries (backoff, retry_after, blocked chats).
  const sender = token
    ? new TelegramSender(prisma, new Api(token, { apiRoot, maxRetries: 0, timeoutMs: 20_000 }), chats, logger, {
        intervalMs: config.TELEGRAM_SEND_INTERVAL_MS,
        maxAttempts: config.TELEGRAM_MAX_ATTEMPTS,
        concurrency: config.TELEGRAM_SEND_CONCURRENCY,
        metrics: infra.metrics,
      })
    : undefined;
  const loginCodes = new LoginCodes(token ? new Api(token, { apiRoot, maxRetries: 1, maxRetryAfterMs: 3_000, timeoutMs: 8_000 }) : undefined, chats, logger, infra.metrics);
  const bot = token
    ? new NotificationBot(
        {
          token,
          apiRoot,
          webhookUrl: config.TELEGRAM_WEBHOOK_URL,
          webhookSecret: config.TELEGRAM_WEBHOOK_SECRET ?? createHash('sha256').update(`webhook:${token}`).digest('hex'),
        },
        users,
        chats,
        orders,
        logger,
      )
    : undefined;

  const notifications = new NotificationService(prisma, {
    telegramEnabled: Boolean(token),
    afterCommit: async (created) => {
      sender?.kick();
      await live.publish(created);
    },
  });
  const newOrderDigest = new NewOrderDigest(prisma, notifications, logger, config.NOTIFICATION_NEW_ORDER_WINDOW_SECONDS * 1000);
  const orderNotifications = new OrderNotifications(redis, config.REDIS_KEY_PREFIX, notifications, users, newOrderDigest, logger, infra.metrics);
  const stockAlerts = new LowStockAlerts(redis, config.REDIS_KEY_PREFIX, notifications, users, logger, infra.metrics);
  orderNotifications.start();
  stockAlerts.start();
  newOrderDigest.start();
  sender?.start();

  const server = await startSubgraph({
    name: 'notification',
    typeDefs: loadTypeDefs(NOTIFICATION_SCHEMA_FILE),
    resolvers,
    jwt,
    logger,
    port: config.NOTIFICATION_PORT,
    host: config.NOTIFICATION_HOST,
    readiness: infra.readiness,
    metrics: infra.metrics,
    shutdown: config,
    queryCount: infra.queryCount,
    routes: (app) => bot?.mountWebhook(app),
    onStop: async () => {
      await bot?.stop();
      await Promise.all([orderNotifications.stop(), stockAlerts.stop(), newOrderDigest.stop()]);
      await sender?.stop();
      await infra.close();
    },
    context: (base) => ({ ...base, notifications, loginCodes }),
  }).catch(async (error: unknown) => {
    await Promise.all([orderNotifications.stop(), stockAlerts.stop(), newOrderDigest.stop(), sender?.stop()]);
    await infra.close();
    throw error;
  });
  try {
    await bot?.start();
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}
