import { runService } from '../../../kernel/src/server';
import { loadAuthConfig } from './config';
import { startAuthService } from './app';

runService('auth', () => startAuthService(loadAuthConfig()));
