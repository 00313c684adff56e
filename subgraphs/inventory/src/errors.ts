import { AppError, ErrorCode as SharedErrorCode } from '../../../kernel/src/errors';

/** The inventory's refusals: the shared codes and its own (the order service reads these two off the wire). */
export const ErrorCode = {
  ...SharedErrorCode,
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  RESERVATION_EXPIRED: 'RESERVATION_EXPIRED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Not enough available stock for a product: names it, with what was asked and what is left. */
export const outOfStock = (productId: string, requested: number, available: number) =>
  new AppError(
    ErrorCode.OUT_OF_STOCK,
    available > 0
      ? `Only ${available} of product ${productId} ${available === 1 ? 'is' : 'are'} available; ${requested} requested.`
      : `Product ${productId} is out of stock.`,
    { productId, requested, available },
  );
