import pino, { type Logger } from 'pino';
import { currentRequestId } from './request-context';

export type { Logger };

const MASKS: Array<[RegExp, string | ((match: string, ...groups: string[]) => string)]> = [
  // JWTs: access, refresh and internal tokens.
  [/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, '[token]'],
  [/(Bearer\s+)[^\s"\\]+/gi, '$1[token]'],
  // A Telegram bot token, in a Bot API URL or on its own.
  [/\d{6,12}:[\w-]{30,}/g, '[bot-token]'],
  // A one-time code next to the word that names it ("code": "123456", code 123456, otp=123456).
  [/((?:code|otp)\b(?:[\s"':=]|\\")+)\d{4,8}(?!\d)/gi, '$1[code]'],
  // Phone numbers in E.164: the first two digits and the last two stay, enough to tell two apart.
  [/\+(\d{2})(\d{5,13})(\d{2})(?!\d)/g, (_match, first: string, middle: string, last: string) => `+${first}${'*'.repeat(middle.length)}${last}`],
];

/** A log line with its tokens, one-time codes and phone numbers masked (the line as written, so nested errors too). */
export function maskSecrets(line: string): string {
  let masked = line;
  for (const [pattern, replacement] of MASKS) masked = masked.replace(pattern, replacement as string);
  return masked;
}

/**
 * One structured logger per process; `service` names who wrote the line, `requestId` the request it
 * works for (AsyncLocalStorage, see request-context.ts). Lines go to stdout, or appended to `file`
 * (LOG_FILE), written synchronously so a process killed mid-test leaves its last lines. In
 * production no line holds a token, a one-time code or a whole phone number.
 */
export function createLogger(
  service: string,
  level: string = process.env.LOG_LEVEL ?? 'info',
  file?: string,
  nodeEnv: string = process.env.NODE_ENV ?? 'development',
): Logger {
  const options: pino.LoggerOptions = {
    name: service,
    level,
    base: { service },
    mixin: () => {
      const requestId = currentRequestId();
      return requestId ? { requestId } : {};
    },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        '*.headers.authorization',
        '*.headers.cookie',
        '*.accessToken',
        '*.refreshToken',
        '*.token',
        '*.code',
        // GraphQL variables carry phones, codes and tokens.
        'variables',
        '*.variables',
      ],
      remove: true,
    },
    ...(nodeEnv === 'production' ? { hooks: { streamWrite: maskSecrets } } : {}),
  };
  return file ? pino(options, pino.destination({ dest: file, append: true, mkdir: true, sync: true })) : pino(options);
}
