import { createLogger, type Logger } from '../../../kernel/src/logger';
import { openInfrastructure } from '../../../kernel/src/infrastructure';
import { SubgraphClient } from '../../../kernel/src/subgraph-client';
import { projectPath } from '../../../kernel/src/project-root';
import { loadTypeDefs, startSubgraph, type RunningServer } from '../../../kernel/src/server';
import { normalizePhone } from './phone';
import type { AuthConfig } from './config';
import { OtpService } from './otp';
import { LogOtpDelivery } from './otp-delivery';
import { NotificationOtpDelivery } from './notification-client';
import { createAuthContext, resolvers } from './resolvers';
import { LoginService } from './login';
import { SessionService } from './sessions';
import { UserService } from './users';

/** Sending a code (in the background) waits for Telegram, with its own retries, behind the notification service. */
const LOGIN_CODE_TIMEOUT_MS = 20_000;

export const AUTH_SCHEMA_FILE = projectPath('subgraphs/auth/schema.graphql');

export interface AuthService extends RunningServer {
  logger: Logger;
}

/** Wires the auth subgraph: Prisma, Redis, JWT, code delivery (through the notification service) and the GraphQL server. */
export async function startAuthService(config: AuthConfig, logger: Logger = createLogger('auth', config.LOG_LEVEL, config.LOG_FILE, config.NODE_ENV)): Promise<AuthService> {
  const infra = await openInfrastructure('auth', config, logger);
  const { prisma, redis, jwt } = infra;
  const adminPhones = new Set(config.ADMIN_PHONES.map((phone) => normalizePhone(phone, config.DEFAULT_PHONE_REGION, 'ADMIN_PHONES')));
  const users = new UserService(prisma, adminPhones, config.DEFAULT_PHONE_REGION);
  const sessions = new SessionService(prisma, jwt, logger);
  const otp = new OtpService(redis, {
    secret: config.OTP_SECRET,
    ttlSeconds: config.OTP_TTL_SECONDS,
    resendCooldownSeconds: config.OTP_RESEND_COOLDOWN_SECONDS,
    maxAttempts: config.OTP_MAX_ATTEMPTS,
    phoneLimitPerHour: config.OTP_PHONE_LIMIT_PER_HOUR,
    ipLimitPerHour: config.OTP_IP_LIMIT_PER_HOUR,
    keyPrefix: config.REDIS_KEY_PREFIX,
  }, infra.metrics);

  const token = config.TELEGRAM_BOT_TOKEN;
  // Expected in development (production refuses to start without a token): worth a line, not a warning.
  if (!token) logger.info('TELEGRAM_BOT_TOKEN is not set: login codes are written to this log (development only)');
  const delivery = token
    ? new NotificationOtpDelivery(
        new SubgraphClient({ name: 'notification', url: config.NOTIFICATION_URL, serviceToken: () => jwt.signService('auth'), timeoutMs: LOGIN_CODE_TIMEOUT_MS }),
      )
    : new LogOtpDelivery(logger);
  const login = new LoginService(prisma, otp, delivery, users, sessions, {
    defaultRegion: config.DEFAULT_PHONE_REGION,
    requireTelegram: Boolean(token),
    botUsername: config.TELEGRAM_BOT_USERNAME,
  }, logger);

  const server = await startSubgraph({
    name: 'auth',
    typeDefs: loadTypeDefs(AUTH_SCHEMA_FILE),
    resolvers,
    jwt,
    logger,
    port: config.AUTH_PORT,
    host: config.AUTH_HOST,
    readiness: infra.readiness,
    metrics: infra.metrics,
    shutdown: config,
    context: (base) => createAuthContext(base, { login, sessions, users }),
    onStop: async () => {
      await login.settle();
      await infra.close();
    },
  });

  return { ...server, logger };
}
