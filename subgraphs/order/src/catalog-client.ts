import { AppError, ErrorCode } from '../../../kernel/src/errors';
import type { Logger } from '../../../kernel/src/logger';
import { SubgraphUnavailable, type SubgraphClient } from '../../../kernel/src/subgraph-client';
import { OrderSnapshotDocument, type OrderSnapshotQuery } from '../../../generated/graphql/order/catalog-client';

export type CatalogProduct = NonNullable<OrderSnapshotQuery['productsByIds'][number]>;

/** The catalog as the order service reads it: the products of an order, in one request. */
export class CatalogClient {
  constructor(
    private readonly client: SubgraphClient,
    private readonly logger: Logger,
  ) {}

  /** Each id's product, or null when the catalog does not sell it (unknown or deleted); in the order of `ids`. */
  async products(ids: readonly string[]): Promise<Array<CatalogProduct | null>> {
    let answer;
    try {
      answer = await this.client.request(OrderSnapshotDocument, { ids: [...ids] });
    } catch (error) {
      if (!(error instanceof SubgraphUnavailable)) throw error;
      this.logger.warn({ err: error.message }, 'catalog unavailable for an order snapshot');
      throw unavailable();
    }
    if (!answer.data || answer.errors?.length) {
      this.logger.error({ errors: answer.errors }, 'catalog refused an order snapshot');
      throw unavailable();
    }
    return answer.data.productsByIds;
  }
}

const unavailable = () => new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The catalog cannot be reached to price the order; try again in a moment.');
