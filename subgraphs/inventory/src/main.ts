// First: OpenTelemetry must patch http, undici, pg and graphql before anything loads them.
import '../../../kernel/src/tracing';
import { runService } from '../../../kernel/src/server';
import { loadInventoryConfig } from './config';
import { startInventoryService } from './app';

runService('inventory', () => startInventoryService(loadInventoryConfig()));
