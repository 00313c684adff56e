import { randomBytes } from 'node:crypto';
import type { ResultOf, VariablesOf } from '@graphql-typed-document-node/core';
import { gql } from '../../../generated/graphql/gateway';
import { useFileDatabase } from '../../../test/support/database';
import type { GraphQLResponse } from '../../../test/support/graphql';
import type { Stack } from '../../../test/support/stack';

/** What the catalog tests read back of a product. */
const PRODUCT_FIELDS = gql(`
  fragment CatalogTestProduct on Product { id sku name description category price { amount currency } attributes images inStock createdAt updatedAt }
`);

export const CREATE_PRODUCT = gql(`
  mutation CatalogCreateProduct($input: CreateProductInput!) { createProduct(input: $input) { ...CatalogTestProduct } }
`);
export const UPDATE_PRODUCT = gql(`
  mutation CatalogUpdateProduct($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { ...CatalogTestProduct } }
`);
export const DELETE_PRODUCT = gql(`mutation CatalogDeleteProduct($id: ID!) { deleteProduct(id: $id) { id } }`);
export const PRODUCT = gql(`query CatalogProduct($id: ID!) { product(id: $id) { ...CatalogTestProduct } }`);
export const PRODUCT_BY_SKU = gql(`query CatalogProductBySku($sku: String!) { productBySku(sku: $sku) { ...CatalogTestProduct } }`);
export const PRODUCTS = gql(`
  query CatalogProducts($filter: ProductFilter, $sort: ProductSort, $first: Int, $after: String) {
    products(filter: $filter, sort: $sort, first: $first, after: $after) {
      totalCount
      edges { cursor node { id sku name category price { amount currency } inStock createdAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

/** A product as the catalog tests read it back. */
export type ProductNode = ResultOf<typeof PRODUCT_FIELDS>;
export type ProductPage = ResultOf<typeof PRODUCTS>['products'];
/** A product as a page of the list shows it (a full `ProductNode` is one too). */
export type ListedProduct = ProductPage['edges'][number]['node'];
export type ProductsVariables = VariablesOf<typeof PRODUCTS>;
export type ProductFilter = NonNullable<ProductsVariables['filter']>;
export type CreateProductInput = VariablesOf<typeof CREATE_PRODUCT>['input'];
export type UpdateProductInput = VariablesOf<typeof UPDATE_PRODUCT>['input'];

/** A short random tag: tests share one database, so each one names its own category and SKUs with it. */
export const uniqueTag = () => randomBytes(4).toString('hex');

/** A random made-up word of lowercase letters: no other test's product or dictionary entry resembles it. */
export function randomWord(length = 10): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return Array.from(randomBytes(length), (byte) => letters[byte % letters.length]).join('');
}

let skuCounter = 0;
export const uniqueSku = (prefix = 'T') => `${prefix}-${uniqueTag()}-${++skuCounter}`;

/** What `createProduct` needs: a SKU and a price are made up when not given. */
export type ProductDraft = Omit<CreateProductInput, 'sku' | 'price'> & Partial<Pick<CreateProductInput, 'sku' | 'price'>>;

/** Creates a product through the gateway as `token` (an admin); fails the test on any error. */
export async function createProduct(stack: Stack, token: string, draft: ProductDraft): Promise<ProductNode> {
  const input = { sku: uniqueSku(), price: { amount: 1000 }, ...draft };
  const response = await stack.gql(CREATE_PRODUCT, { input }, { token });
  if (response.errors) throw new Error(`createProduct failed: ${JSON.stringify(response.errors)}`);
  return response.data!.createProduct;
}

/** One after the other, so `createdAt` follows the order given. */
export async function createProducts(stack: Stack, token: string, drafts: ProductDraft[]): Promise<ProductNode[]> {
  const created: ProductNode[] = [];
  for (const draft of drafts) created.push(await createProduct(stack, token, draft));
  return created;
}

export async function listProducts(stack: Stack, variables: ProductsVariables, token?: string): Promise<ProductPage> {
  const response = await stack.gql(PRODUCTS, variables, { token });
  if (response.errors) throw new Error(`products failed: ${JSON.stringify(response.errors)}`);
  return response.data!.products;
}

export const names = (page: ProductPage) => page.edges.map((edge) => edge.node.name);

/** The first error's code and field, for compact assertions. */
export const refusal = (response: GraphQLResponse<unknown>) => ({
  code: response.errors?.[0]?.extensions?.code,
  field: response.errors?.[0]?.extensions?.field,
});

/** Walks every page of a list and returns the nodes in order. */
export async function walkAll(stack: Stack, variables: ProductsVariables, onPage?: (page: ProductPage) => Promise<void>): Promise<ListedProduct[]> {
  const nodes: ListedProduct[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await listProducts(stack, { ...variables, after });
    nodes.push(...page.edges.map((edge) => edge.node));
    await onPage?.(page);
    if (!page.pageInfo.hasNextPage) return nodes;
    after = page.pageInfo.endCursor;
  }
  throw new Error('more than 1000 pages: the walk does not end');
}

/**
 * Direct database access for what the catalog API cannot do by design: `inStock` comes from the
 * inventory's stock events, so tests set it here the way that projection would.
 */
export function catalogDatabase() {
  const prisma = useFileDatabase();
  return {
    prisma,
    setInStock: (ids: string[], inStock: boolean) => prisma.product.updateMany({ where: { id: { in: ids } }, data: { inStock } }),
  };
}
