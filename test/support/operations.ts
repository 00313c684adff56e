import { randomUUID } from 'node:crypto';
import { gql } from '../../generated/graphql/gateway';
import type { Stack } from './stack';

/**
 * Operations several test files send through the gateway, as typed documents (`npm run codegen`
 * checks them against the API schema). What only one file sends stays in that file.
 */

export const ME_ROLE = gql(`query MeIdAndRole { me { id role } }`);

/** Needs an admin's token; `sku`, `name`, `category` and `price` are what a product must have. */
export const CREATE_PRODUCT_ID = gql(`
  mutation AdminCreateProductId($input: CreateProductInput!) { createProduct(input: $input) { id } }
`);
export const CREATE_INVENTORY_ITEM = gql(`
  mutation AdminCreateInventoryItem($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId } }
`);
export const ADJUST_STOCK = gql(`
  mutation AdminAdjustStock($productId: ID!, $delta: Int!, $reason: String!) {
    adjustStock(productId: $productId, delta: $delta, reason: $reason) { onHand available }
  }
`);

export const PRODUCT_IN_STOCK = gql(`query ProductInStock($id: ID!) { product(id: $id) { inStock } }`);
/** The cheapest question to the catalog through the gateway. */
export const PRODUCT_TOTAL = gql(`query ProductTotal { products(first: 1) { totalCount } }`);

/** What a stocked product needs; the SKU gets a random suffix, so files and runs never collide. */
export interface StockedProduct {
  skuPrefix: string;
  name: string;
  category: string;
  price: { amount: number; currency?: string };
  onHand: number;
}

/** An admin creates a product and its inventory item through the gateway; its id. */
export async function createStockedProduct(stack: Stack, adminToken: string, product: StockedProduct): Promise<string> {
  const { skuPrefix, onHand, ...fields } = product;
  const created = await stack.gql(CREATE_PRODUCT_ID, { input: { sku: `${skuPrefix}-${randomUUID().slice(0, 8)}`, ...fields } }, { token: adminToken });
  if (created.errors) throw new Error(`createProduct failed: ${JSON.stringify(created.errors)}`);
  const productId = created.data!.createProduct.id;
  const item = await stack.gql(CREATE_INVENTORY_ITEM, { input: { productId, onHand } }, { token: adminToken });
  if (item.errors) throw new Error(`createInventoryItem failed: ${JSON.stringify(item.errors)}`);
  return productId;
}
