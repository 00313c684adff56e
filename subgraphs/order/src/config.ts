import { z } from 'zod';
import { commonConfigShape, env, loadConfig } from '../../../kernel/src/config';
import { jwtConfigShape } from '../../../kernel/src/jwt';

export const orderConfigShape = {
  ...commonConfigShape,
  ...jwtConfigShape,
  ORDER_PORT: env.port(4004),
  ORDER_HOST: z.string().default('127.0.0.1'),
};

export const loadOrderConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(orderConfigShape, source);
export type OrderConfig = ReturnType<typeof loadOrderConfig>;
