// First: OpenTelemetry must patch http, undici, pg and graphql before anything loads them.
import '../../../kernel/src/tracing';
import { runService } from '../../../kernel/src/server';
import { loadAuthConfig } from './config';
import { startAuthService } from './app';

runService('auth', () => startAuthService(loadAuthConfig()));
