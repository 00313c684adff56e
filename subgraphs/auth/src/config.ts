import { z } from 'zod';
import { commonConfigShape, env, loadConfig } from '../../../kernel/src/config';
import { jwtConfigShape } from '../../../kernel/src/jwt';

export const authConfigShape = {
  ...commonConfigShape,
  ...jwtConfigShape,
  DATABASE_ROLE: env.databaseRole('shop_auth'),
  AUTH_PORT: env.port(4001),
  AUTH_HOST: z.string().default('127.0.0.1'),
  /** Phones (any format libphonenumber understands) that are admins from their first login. */
  ADMIN_PHONES: env.list(),
  /** Region assumed for phones written without a country code, e.g. "US"; unset means "+" is required. */
  DEFAULT_PHONE_REGION: z.string().length(2).toUpperCase().optional(),
  /**
   * The bot itself lives in the notification service; here the token only decides whether codes are
   * sent (through the notification service) or, in development without one, written to this log.
   */
  TELEGRAM_BOT_TOKEN: z.string().regex(/^\d+:[\w-]+$/, { message: 'must look like 123456:ABC-DEF' }).optional(),
  /** Named in requestOtp's answer ("if this number is linked to @bot ..."). */
  TELEGRAM_BOT_USERNAME: z.string().optional(),
  /** The notification subgraph, which sends the login codes to Telegram. */
  NOTIFICATION_URL: env.url().default('http://127.0.0.1:4005/graphql'),
  /** Key for hashing one-time codes; defaults to JWT_SECRET. */
  OTP_SECRET: z.string().min(32, { message: 'must be at least 32 characters' }).optional(),
  OTP_TTL_SECONDS: env.positiveInt(300),
  OTP_RESEND_COOLDOWN_SECONDS: env.positiveInt(60),
  OTP_MAX_ATTEMPTS: env.positiveInt(5),
  OTP_PHONE_LIMIT_PER_HOUR: env.positiveInt(5),
  OTP_IP_LIMIT_PER_HOUR: env.positiveInt(30),
};

export type AuthConfig = ReturnType<typeof loadAuthConfig>;

export function loadAuthConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(authConfigShape, source);
  if (config.NODE_ENV === 'production' && !config.TELEGRAM_BOT_TOKEN) {
    throw new Error('Invalid configuration: TELEGRAM_BOT_TOKEN is required in production');
  }
  const otpSecret = config.OTP_SECRET ?? config.JWT_SECRET;
  if (!otpSecret) throw new Error('Invalid configuration: OTP_SECRET is required when JWT_SECRET is not set');
  return { ...config, OTP_SECRET: otpSecret };
}
