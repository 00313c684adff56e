import { ErrorCode as SharedErrorCode } from '../../../kernel/src/errors';

/** The auth service's refusals: the shared codes and its own (the login codes'). */
export const ErrorCode = {
  ...SharedErrorCode,
  OTP_INVALID: 'OTP_INVALID',
  OTP_EXPIRED: 'OTP_EXPIRED',
  OTP_ATTEMPTS_EXCEEDED: 'OTP_ATTEMPTS_EXCEEDED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
