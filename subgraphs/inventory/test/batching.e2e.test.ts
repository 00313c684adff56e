import { randomUUID } from 'node:crypto';
import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import type { FakeTelegram } from '../../../test/support/fake-telegram';
import { eventually } from '../../../test/support/eventually';
import { gql } from '../../../generated/graphql/gateway';

const PAGE = gql(`
  query InventoryBatchingPage($category: String!, $first: Int!) {
    products(filter: { category: $category }, sort: PRICE_ASC, first: $first) {
      totalCount
      edges { node { id name price { amount } inStock stock { onHand available lowStockThreshold } } }
    }
  }
`);
const CREATE_PRODUCT = gql(`mutation InventoryBatchingCreateProduct($input: CreateProductInput!) { createProduct(input: $input) { id } }`);
const CREATE_ITEM = gql(`mutation InventoryBatchingCreateItem($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId } }`);
const IN_STOCK_COUNT = gql(`query InventoryBatchingInStockCount($category: String!) { products(filter: { category: $category, inStock: true }) { totalCount } }`);

/** Products 0..59 in price order; every third one (0, 3, ...) has no inventory item, the others `onHand: i`. */
const PRODUCTS = 60;
const STOCKED = 40;

describe('no N+1: a page of products with their stock costs a fixed number of queries', () => {
  const adminPhone = randomPhone();
  // No background sweeps during the measurement, and every page really reaches the subgraphs (not the gateway's response cache).
  const ctx = useStack({ ADMIN_PHONES: adminPhone, RESERVATION_SWEEP_INTERVAL_MS: '3600000', GATEWAY_RESPONSE_CACHE: 'false' });
  let stack: Stack;
  let telegram: FakeTelegram;
  let admin: Session;
  const category = `batching-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    admin = await login(stack, telegram, adminPhone);
    for (let i = 0; i < PRODUCTS; i++) {
      const created = await stack.gql(
        CREATE_PRODUCT,
        { input: { sku: `${category}-${i}`, name: `Batch item ${i}`, category, price: { amount: 100 + i } } },
        { token: admin.accessToken },
      );
      const id = created.data!.createProduct.id;
      if (i % 3 !== 0) {
        await stack.gql(CREATE_ITEM, { input: { productId: id, onHand: i } }, { token: admin.accessToken });
      }
    }
    // The inStock projection has applied all 40 items' events (one each), so its writes don't land in the measurement.
    await eventually(
      () => stack.gql(IN_STOCK_COUNT, { category }),
      (response) => response.data?.products.totalCount === STOCKED,
      20_000,
    );
  });

  async function cost(first: number) {
    const before = { catalog: stack.servers.catalog.queryCount!(), inventory: stack.servers.inventory.queryCount!() };
    const response = await stack.gql(PAGE, { category, first });
    expect(response.errors).toBeUndefined();
    expect(response.data!.products.edges).toHaveLength(first);
    return {
      catalog: stack.servers.catalog.queryCount!() - before.catalog,
      inventory: stack.servers.inventory.queryCount!() - before.inventory,
      data: response.data!.products,
    };
  }

  it('resolves every product\'s stock', async () => {
    const { data } = await cost(50);
    expect(data.totalCount).toBe(PRODUCTS);
    // Of items 0..49, the 17 multiples of 3 have no stock item.
    const withStock = data.edges.filter((e) => e.node.stock !== null);
    expect(withStock).toHaveLength(33);
    expect(withStock.every((e) => e.node.inStock === true)).toBe(true);
    expect(data.edges.find((e) => e.node.name === 'Batch item 0')!.node.stock).toBeNull();
    expect(data.edges.find((e) => e.node.name === 'Batch item 5')!.node.stock).toEqual({ onHand: 5, available: 5, lowStockThreshold: 5 });
  });

  it('costs the same for 5 products as for 50', async () => {
    await cost(5); // warm-up
    const small = await cost(5);
    const large = await cost(50);
    expect(large.catalog).toBe(small.catalog);
    expect(large.inventory).toBe(small.inventory);
    expect(large.catalog).toBeLessThanOrEqual(3);
    expect(large.inventory).toBe(1);
  });
});
