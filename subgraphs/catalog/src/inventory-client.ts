import type { SubgraphClient } from '../../../kernel/src/subgraph-client';
import { InventoryItemsPageDocument, type InventoryItemsPageQuery } from '../../../generated/graphql/catalog/inventory-client';

/** `version` is a 64-bit integer in decimal. */
export type InventoryItemState = InventoryItemsPageQuery['inventoryItems'][number];

/** What the catalog reads from the inventory (a platform-service field, called on the subgraph directly). */
export class InventoryClient {
  constructor(private readonly client: SubgraphClient) {}

  /** Every item by product id, a page at a time: what the stock projection resyncs from. */
  async items(first: number, after: string | null): Promise<InventoryItemState[]> {
    const data = await this.client.data(InventoryItemsPageDocument, { first, after });
    return data.inventoryItems;
  }
}
