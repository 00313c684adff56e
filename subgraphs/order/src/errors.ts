import { ErrorCode as SharedErrorCode } from '../../../kernel/src/errors';

/** The order service's refusals: the shared codes and its own. */
export const ErrorCode = {
  ...SharedErrorCode,
  TOO_MANY_UNCONFIRMED_ORDERS: 'TOO_MANY_UNCONFIRMED_ORDERS',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
