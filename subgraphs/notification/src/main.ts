// First: OpenTelemetry must patch http, undici, pg and graphql before anything loads them.
import '../../../kernel/src/tracing';
import { runService } from '../../../kernel/src/server';
import { loadNotificationConfig } from './config';
import { startNotificationService } from './app';

runService('notification', () => startNotificationService(loadNotificationConfig()));
