// First: OpenTelemetry must patch http, undici, pg and graphql before anything loads them.
import '../../../kernel/src/tracing';
import { runService } from '../../../kernel/src/server';
import { loadCatalogConfig } from './config';
import { startCatalogService } from './app';

runService('catalog', () => startCatalogService(loadCatalogConfig()));
