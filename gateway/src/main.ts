// First: OpenTelemetry must patch http, undici, pg and graphql before anything loads them.
import '../../kernel/src/tracing';
import { runService } from '../../kernel/src/server';
import { loadGatewayConfig } from './config';
import { startGateway } from './app';

runService('gateway', () => startGateway(loadGatewayConfig()));
