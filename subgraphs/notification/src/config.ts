import { z } from 'zod';
import { commonConfigShape, env, loadConfig } from '../../../kernel/src/config';
import { jwtConfigShape } from '../../../kernel/src/jwt';

export const notificationConfigShape = {
  ...commonConfigShape,
  ...jwtConfigShape,
  NOTIFICATION_PORT: env.port(4005),
  NOTIFICATION_HOST: z.string().default('127.0.0.1'),
};

export const loadNotificationConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(notificationConfigShape, source);
export type NotificationConfig = ReturnType<typeof loadNotificationConfig>;
