import { z } from 'zod';
import { commonConfigShape, env, loadConfig } from '../../../kernel/src/config';
import { jwtConfigShape } from '../../../kernel/src/jwt';

export const authConfigShape = {
  ...commonConfigShape,
  ...jwtConfigShape,
  AUTH_PORT: env.port(4001),
  AUTH_HOST: z.string().default('127.0.0.1'),
  /** Phones (any format libphonenumber understands) that are admins from their first login. */
  ADMIN_PHONES: env.list(),
  /** Region assumed for phones written without a country code, e.g. "US"; unset means "+" is required. */
  DEFAULT_PHONE_REGION: z.string().length(2).toUpperCase().optional(),
  TELEGRAM_BOT_TOKEN: z.string().regex(/^\d+:[\w-]+$/, { message: 'must look like 123456:ABC-DEF' }).optional(),
  TELEGRAM_API_BASE_URL: env.url().default('https://api.telegram.org'),
  /** Set to receive updates by webhook (the path of this URL is served by the auth service); unset means polling. */
  TELEGRAM_WEBHOOK_URL: env.url().optional(),
  TELEGRAM_WEBHOOK_SECRET: z.string().regex(/^[A-Za-z0-9_-]{16,256}$/, { message: 'must be 16-256 of A-Z a-z 0-9 _ -' }).optional(),
  TELEGRAM_BOT_USERNAME: z.string().optional(),
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
