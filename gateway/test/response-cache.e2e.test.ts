import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { gql } from '../../generated/graphql/gateway';
import { freePort, useStack, type Stack } from '../../test/support/stack';
import { login, randomPhone, type Session } from '../../test/support/login';
import { graphql } from '../../test/support/graphql';
import { eventually } from '../../test/support/eventually';
import { ADJUST_STOCK, CREATE_INVENTORY_ITEM, CREATE_PRODUCT_ID } from '../../test/support/operations';
import { startGateway, type GatewayServer } from '../src/app';
import { loadGatewayConfig } from '../src/config';
import type { FakeTelegram } from '../../test/support/fake-telegram';

const SHOP_PRODUCT = gql(`query CachedProduct($id: ID!) { product(id: $id) { id name inStock stock { available } } }`);
const SHOP_LISTING = gql(`query CachedListing($category: String!) { products(filter: { category: $category }, first: 10) { totalCount edges { node { name stock { available } } } } }`);
const MY_ACCOUNT = gql(`query CachedMe { me { id phone } }`);
const MY_ACCOUNT_AND_CATALOG = gql(`query CachedMeAndListing($category: String!) { me { id } products(filter: { category: $category }) { totalCount } }`);
const REFRESH = gql(`mutation CachedRefresh($refreshToken: String!) { refreshToken(refreshToken: $refreshToken) { accessToken user { id } } }`);
const RENAME_PRODUCT = gql(`mutation CachedRename($id: ID!, $name: String!) { updateProduct(id: $id, input: { name: $name }) { id name } }`);

/** A second gateway process with the stack's environment: a replica sharing the same Redis. */
async function startGatewayProcess(env: NodeJS.ProcessEnv): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const root = path.resolve(__dirname, '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'gateway/src/main.ts')], {
    cwd: root,
    env: { ...process.env, ...env, GATEWAY_PORT: String(port), LOG_LEVEL: 'error', LOG_FILE: undefined },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  await eventually(
    () => fetch(new URL('/ready', url)).then((r) => r.ok, () => false),
    (ready) => ready,
    30_000,
    200,
  );
  return { url, child };
}

describe('the shared response cache', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let stack: Stack;
  let telegram: FakeTelegram;
  let admin: Session;
  let replica: { url: string; child: ChildProcess };

  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    admin = await login(stack, telegram, adminPhone);
    replica = await startGatewayProcess(stack.env);
  }, 60_000);
  afterAll(async () => {
    if (!replica?.child || replica.child.exitCode !== null) return;
    const exited = new Promise((resolve) => replica.child.once('exit', resolve));
    replica.child.kill('SIGTERM');
    await exited;
  });

  /** Database queries the catalog and inventory ran: what a response served from cache does not cost. */
  const subgraphQueries = () => stack.servers.catalog.queryCount!() + stack.servers.inventory.queryCount!();

  async function stockedProduct(category: string, onHand: number): Promise<string> {
    const token = admin.accessToken;
    const created = await stack.gql(CREATE_PRODUCT_ID, { input: { sku: `RC-${randomUUID().slice(0, 8)}`, name: 'Cached lamp', category, price: { amount: 2500, currency: 'EUR' } } }, { token });
    const productId = created.data!.createProduct.id;
    await stack.gql(CREATE_INVENTORY_ITEM, { input: { productId, onHand } }, { token });
    // The catalog's projection has caught up: nothing in flight changes the product during the test.
    await eventually(() => stack.gql(SHOP_PRODUCT, { id: productId }), (r) => r.data?.product?.inStock === onHand > 0);
    return productId;
  }

  it('serves a public query from Redis on every replica, and a stock change is fresh on both', async () => {
    const productId = await stockedProduct(`rc-stock-${randomUUID().slice(0, 6)}`, 5);
    const first = await stack.gql(SHOP_PRODUCT, { id: productId });
    expect(first.data!.product).toMatchObject({ id: productId, stock: { available: 5 } });

    const before = subgraphQueries();
    const again = await stack.gql(SHOP_PRODUCT, { id: productId });
    const onReplica = await graphql(replica.url, SHOP_PRODUCT, { id: productId });
    expect(again.data).toEqual(first.data);
    expect(onReplica.data).toEqual(first.data);
    expect(subgraphQueries()).toBe(before);

    await stack.gql(ADJUST_STOCK, { productId, delta: -5, reason: 'sold out' }, { token: admin.accessToken });
    // The gateway that made the change evicted it before answering: the very next query, on either replica, is fresh.
    const fresh = await graphql(replica.url, SHOP_PRODUCT, { id: productId });
    expect(fresh.errors).toBeUndefined();
    expect(fresh.data!.product!.stock).toEqual({ available: 0 });
    // inStock is the catalog's projection of the inventory's event: the event evicts it when it lands.
    await eventually(() => graphql(replica.url, SHOP_PRODUCT, { id: productId }), (r) => r.data?.product?.inStock === false);
    expect((await stack.gql(SHOP_PRODUCT, { id: productId })).data!.product).toMatchObject({ inStock: false, stock: { available: 0 } });
  });

  it('a product update or a new product shows in lookups and listings on every replica', async () => {
    const category = `rc-list-${randomUUID().slice(0, 6)}`;
    const productId = await stockedProduct(category, 3);
    const listing = await graphql(replica.url, SHOP_LISTING, { category });
    expect(listing.data!.products.totalCount).toBe(1);
    await stack.gql(SHOP_PRODUCT, { id: productId });
    const before = subgraphQueries();
    expect((await stack.gql(SHOP_LISTING, { category })).data).toEqual(listing.data);
    expect(subgraphQueries()).toBe(before);

    const renamed = await stack.gql(RENAME_PRODUCT, { id: productId, name: 'Renamed lamp' }, { token: admin.accessToken });
    expect(renamed.errors).toBeUndefined();
    expect((await graphql(replica.url, SHOP_PRODUCT, { id: productId })).data!.product!.name).toBe('Renamed lamp');
    expect((await graphql(replica.url, SHOP_LISTING, { category })).data!.products.edges[0]!.node.name).toBe('Renamed lamp');

    await stockedProduct(category, 1);
    expect((await stack.gql(SHOP_LISTING, { category })).data!.products.totalCount).toBe(2);
    expect((await graphql(replica.url, SHOP_LISTING, { category })).data!.products.totalCount).toBe(2);
  });

  it('a login or a token refresh evicts nothing: only catalog, inventory and order mutations do', async () => {
    const category = `rc-keep-${randomUUID().slice(0, 6)}`;
    const productId = await stockedProduct(category, 2);
    const listing = await stack.gql(SHOP_LISTING, { category });
    await stack.gql(SHOP_PRODUCT, { id: productId });
    // Served from the cache now: a hit answers with an Age header.
    expect((await stack.gql(SHOP_LISTING, { category })).headers.get('age')).not.toBeNull();

    // Auth mutations whose answers hold ids (the user's) that the cache must not take for products.
    const shopper = await login(stack, telegram);
    const refreshed = await stack.gql(REFRESH, { refreshToken: shopper.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    // Still hits, on both replicas (the subgraphs' background work makes a count of their queries unfit here).
    const afterListing = await graphql(replica.url, SHOP_LISTING, { category });
    expect(afterListing.data).toEqual(listing.data);
    expect(afterListing.headers.get('age')).not.toBeNull();
    const afterProduct = await stack.gql(SHOP_PRODUCT, { id: productId });
    expect(afterProduct.data!.product).toMatchObject({ id: productId, stock: { available: 2 } });
    expect(afterProduct.headers.get('age')).not.toBeNull();

    // A catalog mutation still evicts the lists at once.
    await stack.gql(RENAME_PRODUCT, { id: productId, name: 'Kept lamp' }, { token: admin.accessToken });
    expect((await graphql(replica.url, SHOP_LISTING, { category })).data!.products.edges[0]!.node.name).toBe('Kept lamp');
  });

  it('never serves one user personal data cached for another', async () => {
    const [ann, bob] = await Promise.all([login(stack, telegram), login(stack, telegram)]);
    for (let round = 0; round < 2; round += 1) {
      const [annMe, bobMe, annOnReplica] = await Promise.all([
        stack.gql(MY_ACCOUNT, undefined, { token: ann.accessToken }),
        stack.gql(MY_ACCOUNT, undefined, { token: bob.accessToken }),
        graphql(replica.url, MY_ACCOUNT, undefined, { token: ann.accessToken }),
      ]);
      expect(annMe.data!.me).toEqual({ id: ann.userId, phone: ann.phone });
      expect(bobMe.data!.me).toEqual({ id: bob.userId, phone: bob.phone });
      expect(annOnReplica.data!.me).toEqual({ id: ann.userId, phone: ann.phone });
      // Personal and public in one response: the whole of it is personal.
      const category = 'rc-nothing';
      expect((await stack.gql(MY_ACCOUNT_AND_CATALOG, { category }, { token: ann.accessToken })).data!.me!.id).toBe(ann.userId);
      expect((await graphql(replica.url, MY_ACCOUNT_AND_CATALOG, { category }, { token: bob.accessToken })).data!.me!.id).toBe(bob.userId);
      expect((await stack.gql(MY_ACCOUNT_AND_CATALOG, { category })).data!.me).toBeNull();
    }
  });

  it('GATEWAY_RESPONSE_CACHE=false serves nothing from the cache', async () => {
    const productId = await stockedProduct(`rc-off-${randomUUID().slice(0, 6)}`, 2);
    await stack.gql(SHOP_PRODUCT, { id: productId });
    let uncached: GatewayServer | undefined;
    try {
      uncached = await startGateway(loadGatewayConfig({ ...stack.env, GATEWAY_RESPONSE_CACHE: 'false' }));
      for (let i = 0; i < 2; i += 1) {
        const before = subgraphQueries();
        const response = await graphql(uncached.url, SHOP_PRODUCT, { id: productId });
        expect(response.data!.product).toMatchObject({ id: productId, stock: { available: 2 } });
        expect(subgraphQueries()).toBeGreaterThan(before);
      }
    } finally {
      await uncached?.stop();
    }
  });
});
