import { runService } from '../../../kernel/src/server';
import { loadNotificationConfig } from './config';
import { startNotificationService } from './app';

runService('notification', () => startNotificationService(loadNotificationConfig()));
