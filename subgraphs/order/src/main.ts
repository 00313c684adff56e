// First: OpenTelemetry must patch http, undici, pg and graphql before anything loads them.
import '../../../kernel/src/tracing';
import { runService } from '../../../kernel/src/server';
import { loadOrderConfig } from './config';
import { startOrderService } from './app';

runService('order', () => startOrderService(loadOrderConfig()));
