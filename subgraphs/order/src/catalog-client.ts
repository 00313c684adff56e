import { AppError, ErrorCode } from '../../../kernel/src/errors';
import type { Logger } from '../../../kernel/src/logger';
import { SubgraphUnavailable, type SubgraphClient } from '../../../kernel/src/subgraph-client';

export interface CatalogProduct {
  id: string;
  name: string;
  price: { amount: number; currency: string };
}

/** The catalog as the order service reads it: the products of an order, in one request. */
export class CatalogClient {
  constructor(
    private readonly client: SubgraphClient,
    private readonly logger: Logger,
  ) {}

  /** Each id's product, or null when the catalog does not sell it (unknown or deleted); in the order of `ids`. */
  async products(ids: readonly string[]): Promise<Array<CatalogProduct | null>> {
    const variables = Object.fromEntries(ids.map((id, i) => [`id${i}`, id]));
    const query = `query OrderSnapshot(${ids.map((_, i) => `$id${i}: ID!`).join(', ')}) {
      ${ids.map((_, i) => `p${i}: product(id: $id${i}) { id name price { amount currency } }`).join('\n      ')}
    }`;
    let answer;
    try {
      answer = await this.client.request<Record<string, CatalogProduct | null>>(query, variables);
    } catch (error) {
      if (!(error instanceof SubgraphUnavailable)) throw error;
      this.logger.warn({ err: error.message }, 'catalog unavailable for an order snapshot');
      throw unavailable();
    }
    if (!answer.data || answer.errors?.length) {
      this.logger.error({ errors: answer.errors }, 'catalog refused an order snapshot');
      throw unavailable();
    }
    const data = answer.data;
    return ids.map((_, i) => data[`p${i}`] ?? null);
  }
}

const unavailable = () => new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The catalog cannot be reached to price the order; try again in a moment.');
