import { gql } from '../../generated/graphql/gateway';

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
