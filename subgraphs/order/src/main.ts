import { runService } from '../../../kernel/src/server';
import { loadOrderConfig } from './config';
import { startOrderService } from './app';

runService('order', () => startOrderService(loadOrderConfig()));
