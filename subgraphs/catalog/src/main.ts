import { runService } from '../../../kernel/src/server';
import { loadCatalogConfig } from './config';
import { startCatalogService } from './app';

runService('catalog', () => startCatalogService(loadCatalogConfig()));
