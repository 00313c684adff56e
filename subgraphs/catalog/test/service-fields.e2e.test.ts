import { randomUUID } from 'node:crypto';
import { useStack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { firstErrorCode, graphql } from '../../../test/support/graphql';

const CREATE = `mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }`;
const DELETE = `mutation($id: ID!) { deleteProduct(id: $id) { id } }`;
// What the order service sends (subgraphs/order/src/catalog-client.graphql), straight to the catalog subgraph.
const BY_IDS = `query($ids: [ID!]!) { productsByIds(ids: $ids) { id name price { amount currency } } }`;

/** What the order service asks of the catalog subgraph to price an order. */
describe('the catalog subgraph\'s fields for platform services', () => {
  const adminPhone = randomPhone();
  const shop = useStack({ ADMIN_PHONES: adminPhone });
  let admin: Session;
  let asService: { token: string };

  const createProduct = async (name: string, amount: number) => {
    const created = await shop.stack.gql(
      CREATE,
      { input: { sku: `SVC-${randomUUID().slice(0, 8)}`, name, category: 'service-fields', price: { amount, currency: 'EUR' } } },
      { token: admin.accessToken },
    );
    expect(created.errors).toBeUndefined();
    return created.data!.createProduct.id as string;
  };

  beforeAll(async () => {
    admin = await login(shop.stack, shop.telegram, adminPhone);
    asService = { token: await shop.stack.serviceToken('order') };
  });

  it('answers each id with its product, or null when unknown, deleted or not an id, in the order asked', async () => {
    const kettle = await createProduct('Kettle', 2500);
    const toaster = await createProduct('Toaster', 3900);
    const gone = await createProduct('Discontinued', 100);
    expect((await shop.stack.gql(DELETE, { id: gone }, { token: admin.accessToken })).errors).toBeUndefined();

    const answer = await graphql(shop.stack.urls.catalog, BY_IDS, { ids: [toaster, randomUUID(), gone, 'not-a-uuid', kettle, toaster] }, asService);
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.productsByIds).toEqual([
      { id: toaster, name: 'Toaster', price: { amount: 3900, currency: 'EUR' } },
      null,
      null,
      null,
      { id: kettle, name: 'Kettle', price: { amount: 2500, currency: 'EUR' } },
      { id: toaster, name: 'Toaster', price: { amount: 3900, currency: 'EUR' } },
    ]);
  });

  it('takes at most 100 ids', async () => {
    const ids = Array.from({ length: 101 }, () => randomUUID());
    const answer = await graphql(shop.stack.urls.catalog, BY_IDS, { ids }, asService);
    expect(answer.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ids' });
    const hundred = await graphql(shop.stack.urls.catalog, BY_IDS, { ids: ids.slice(0, 100) }, asService);
    expect(hundred.errors).toBeUndefined();
    expect(hundred.data!.productsByIds).toHaveLength(100);
  });

  it('is for platform services only: hidden at the gateway, refused to users and anonymous callers', async () => {
    const user = await login(shop.stack, shop.telegram);
    const variables = { ids: [randomUUID()] };
    expect(firstErrorCode(await shop.stack.gql(BY_IDS, variables, { token: admin.accessToken }))).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(firstErrorCode(await graphql(shop.stack.urls.catalog, BY_IDS, variables, { token: user.accessToken }))).toBe('FORBIDDEN');
    expect(firstErrorCode(await graphql(shop.stack.urls.catalog, BY_IDS, variables, { token: admin.accessToken }))).toBe('FORBIDDEN');
    expect(firstErrorCode(await graphql(shop.stack.urls.catalog, BY_IDS, variables))).toBe('UNAUTHENTICATED');
  });
});
