import pino, { type Logger } from 'pino';

export type { Logger };

/** One structured logger per process; `service` names who wrote the line. */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    redact: { paths: ['req.headers.authorization', '*.accessToken', '*.refreshToken', '*.code'], remove: true },
  });
}
