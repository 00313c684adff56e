import { runService } from '../../../kernel/src/server';
import { loadInventoryConfig } from './config';
import { startInventoryService } from './app';

runService('inventory', () => startInventoryService(loadInventoryConfig()));
