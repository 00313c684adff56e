import { runService } from '../../kernel/src/server';
import { loadGatewayConfig } from './config';
import { startGateway } from './app';

runService('gateway', () => startGateway(loadGatewayConfig()));
