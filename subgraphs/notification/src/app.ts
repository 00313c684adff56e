import path from 'node:path';
import { openInfrastructure } from '../../../kernel/src/infrastructure';
import { loadTypeDefs, startSubgraph, type RunningServer } from '../../../kernel/src/server';
import type { NotificationConfig } from './config';
import { NotificationService } from './notifications';
import { resolvers } from './resolvers';

export const NOTIFICATION_SCHEMA_FILE = path.resolve(__dirname, '../schema.graphql');

export async function startNotificationService(config: NotificationConfig): Promise<RunningServer> {
  const infra = await openInfrastructure('notification', config);
  const notifications = new NotificationService(infra.prisma);
  return startSubgraph({
    name: 'notification',
    typeDefs: loadTypeDefs(NOTIFICATION_SCHEMA_FILE),
    resolvers,
    jwt: infra.jwt,
    logger: infra.logger,
    port: config.NOTIFICATION_PORT,
    host: config.NOTIFICATION_HOST,
    readiness: infra.readiness,
    onStop: infra.close,
    context: (base) => ({ ...base, notifications }),
  });
}
