import { randomBytes } from 'node:crypto';
import { loadNotificationConfig } from '../src/config';

// A fresh secret: production refuses one written in the repository.
const base = { DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/shop', JWT_SECRET: randomBytes(32).toString('hex') };

describe('the notification service\'s configuration', () => {
  it('has the documented defaults', () => {
    expect(loadNotificationConfig(base)).toMatchObject({
      NOTIFICATION_PORT: 4005,
      AUTH_URL: 'http://127.0.0.1:4001/graphql',
      ORDER_URL: 'http://127.0.0.1:4004/graphql',
      TELEGRAM_API_BASE_URL: 'https://api.telegram.org',
      TELEGRAM_SEND_INTERVAL_MS: 500,
      TELEGRAM_MAX_ATTEMPTS: 8,
      NOTIFICATION_NEW_ORDER_WINDOW_SECONDS: 60,
    });
    expect(loadNotificationConfig({ ...base, NOTIFICATION_NEW_ORDER_WINDOW_SECONDS: '0' }).NOTIFICATION_NEW_ORDER_WINDOW_SECONDS).toBe(0);
  });

  it('needs a bot token in production: it is the one service that talks to Telegram', () => {
    expect(() => loadNotificationConfig({ ...base, NODE_ENV: 'production' })).toThrow('Invalid configuration: TELEGRAM_BOT_TOKEN is required in production');
    // A token of its own: the ones written in the repository (.env.example's 123456:ABC-DEF) are refused in production.
    const token = `${100000 + Math.floor(Math.random() * 900000)}:${randomBytes(24).toString('base64url')}`;
    expect(loadNotificationConfig({ ...base, NODE_ENV: 'production', TELEGRAM_BOT_TOKEN: token }).TELEGRAM_BOT_TOKEN).toBe(token);
  });

  it.each([
    ['TELEGRAM_BOT_TOKEN', 'not-a-token'],
    ['TELEGRAM_WEBHOOK_SECRET', 'short'],
    ['TELEGRAM_MAX_ATTEMPTS', '0'],
    ['ORDER_URL', 'order-service'],
    ['NOTIFICATION_NEW_ORDER_WINDOW_SECONDS', '-1'],
    ['NOTIFICATION_NEW_ORDER_WINDOW_SECONDS', '1.5'],
  ])('names a malformed %s', (name, value) => {
    expect(() => loadNotificationConfig({ ...base, [name]: value })).toThrow(new RegExp(`^Invalid configuration: ${name} `));
  });
});
