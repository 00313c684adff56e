import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * One structured logger per process; `service` names who wrote the line. Lines go to stdout, or
 * appended to `file` (LOG_FILE), written synchronously so a process killed mid-test leaves its last lines.
 */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info', file?: string): Logger {
  const options = {
    name: service,
    level,
    base: { service },
    redact: { paths: ['req.headers.authorization', '*.accessToken', '*.refreshToken', '*.code'], remove: true },
  };
  return file ? pino(options, pino.destination({ dest: file, append: true, mkdir: true, sync: true })) : pino(options);
}
