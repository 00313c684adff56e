import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { FakeTelegram } from '../../../test/support/fake-telegram';
import { testEnv, useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { graphql } from '../../../test/support/graphql';
import { JwtService } from '../../../kernel/src/jwt';
import type { PrismaClient } from '../../../kernel/src/prisma';
import { countingStatements, useFileDatabase } from '../../../test/support/database';
import { loadTypeDefs, subgraphSchema } from '../../../kernel/src/server';
import { loadGatewayConfig } from '../../../gateway/src/config';
import { CATALOG_SCHEMA_FILE, createCatalogServices } from '../src/app';
import { createCatalogContext, resolvers, type CatalogContext } from '../src/resolvers';
import {
  CREATE_PRODUCT,
  DELETE_PRODUCT,
  PRODUCT,
  PRODUCT_BY_SKU,
  UPDATE_PRODUCT,
  createProduct,
  createProducts,
  listProducts,
  refusal,
  uniqueSku,
  uniqueTag,
  type CreateProductInput,
  type UpdateProductInput,
} from './catalog-support';

const ENTITIES = /* GraphQL */ `
  query Entities($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { id name } } }
`;

const validInput = () => ({
  sku: uniqueSku('VAL'),
  name: 'Valid Product',
  category: `valid-${uniqueTag()}`,
  price: { amount: 1000, currency: 'USD' },
});

describe('managing products (admins) and reading them (everyone)', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let stack: Stack;
  let telegram: FakeTelegram;
  let admin: Session;
  let shopper: Session;
  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    [admin, shopper] = await Promise.all([login(stack, telegram, adminPhone), login(stack, telegram)]);
  });

  it('creates a product with every field, and anyone can read it by id and by SKU', async () => {
    const input = {
      sku: uniqueSku('KB'),
      name: '  Mechanical Keyboard  ',
      description: 'Hot-swappable switches.',
      category: `keyboards-${uniqueTag()}`,
      price: { amount: 12999, currency: 'EUR' },
      attributes: { color: 'black', layout: 'ISO', keys: 105, backlit: true },
      images: ['https://cdn.example.com/kb/1.jpg', 'http://cdn.example.com/kb/2.jpg'],
    };
    const created = await stack.gql(CREATE_PRODUCT, { input }, { token: admin.accessToken });
    expect(created.errors).toBeUndefined();
    const product = created.data!.createProduct;
    expect(product).toMatchObject({
      ...input,
      name: 'Mechanical Keyboard', // trimmed
      inStock: false, // until the inventory says otherwise
    });
    expect(product.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(product.createdAt).toBe(product.updatedAt);

    // Read anonymously, through the gateway.
    expect((await stack.gql(PRODUCT, { id: product.id })).data!.product).toEqual(product);
    expect((await stack.gql(PRODUCT_BY_SKU, { sku: input.sku })).data!.productBySku).toEqual(product);
    // A shopper too.
    expect((await stack.gql(PRODUCT, { id: product.id }, { token: shopper.accessToken })).data!.product!.id).toBe(product.id);
  });

  it('defaults: USD, no description, no attributes, no images', async () => {
    const created = await stack.gql(
      CREATE_PRODUCT,
      { input: { sku: uniqueSku(), name: 'Plain Mug', category: `mugs-${uniqueTag()}`, price: { amount: 0 } } },
      { token: admin.accessToken },
    );
    expect(created.data!.createProduct).toMatchObject({ price: { amount: 0, currency: 'USD' }, description: null, attributes: null, images: [] });
  });

  it('answers null for an unknown id, a malformed id and an unknown SKU', async () => {
    expect((await stack.gql(PRODUCT, { id: '00000000-0000-4000-8000-000000000000' })).data).toEqual({ product: null });
    expect((await stack.gql(PRODUCT, { id: 'not-an-id' })).data).toEqual({ product: null });
    expect((await stack.gql(PRODUCT_BY_SKU, { sku: uniqueSku('NOPE') })).data).toEqual({ productBySku: null });
  });

  it('updates only the fields given, and null clears an optional one', async () => {
    const original = await createProduct(stack, admin.accessToken, {
      name: 'Desk Lamp',
      category: `lamps-${uniqueTag()}`,
      description: 'Warm light.',
      attributes: { watts: 9 },
      images: ['https://cdn.example.com/lamp.jpg'],
    });
    await new Promise((resolve) => setTimeout(resolve, 5)); // so updatedAt can move

    const renamed = await stack.gql(UPDATE_PRODUCT, { id: original.id, input: { name: 'LED Desk Lamp', price: { amount: 2599, currency: 'GBP' } } }, { token: admin.accessToken });
    expect(renamed.errors).toBeUndefined();
    expect(renamed.data!.updateProduct).toEqual({
      ...original,
      name: 'LED Desk Lamp',
      price: { amount: 2599, currency: 'GBP' },
      updatedAt: expect.any(String),
    });
    expect(Date.parse(renamed.data!.updateProduct.updatedAt)).toBeGreaterThan(Date.parse(original.updatedAt!));

    const cleared = await stack.gql(UPDATE_PRODUCT, { id: original.id, input: { description: null, attributes: null, images: null } }, { token: admin.accessToken });
    expect(cleared.data!.updateProduct).toMatchObject({ name: 'LED Desk Lamp', description: null, attributes: null, images: [] });

    const newSku = uniqueSku('LAMP');
    const moved = await stack.gql(UPDATE_PRODUCT, { id: original.id, input: { sku: newSku } }, { token: admin.accessToken });
    expect(moved.data!.updateProduct.sku).toBe(newSku);
    expect((await stack.gql(PRODUCT_BY_SKU, { sku: newSku })).data!.productBySku!.id).toBe(original.id);
    expect((await stack.gql(PRODUCT_BY_SKU, { sku: original.sku })).data!.productBySku).toBeNull();

    // Nothing given: nothing changes.
    const unchanged = await stack.gql(UPDATE_PRODUCT, { id: original.id, input: {} }, { token: admin.accessToken });
    expect(unchanged.data!.updateProduct).toEqual(moved.data!.updateProduct);
  });

  describe('refusals', () => {
    const prisma = useFileDatabase({ max: 2 });

    it('lets only admins write: a shopper is FORBIDDEN, an anonymous caller UNAUTHENTICATED, and nothing changes', async () => {
      const product = await createProduct(stack, admin.accessToken, { name: 'Guarded', category: `guarded-${uniqueTag()}` });
      const input = validInput();
      const attempts = [
        (token?: string) => stack.gql(CREATE_PRODUCT, { input }, { token }),
        (token?: string) => stack.gql(UPDATE_PRODUCT, { id: product.id, input: { name: 'Hacked' } }, { token }),
        (token?: string) => stack.gql(DELETE_PRODUCT, { id: product.id }, { token }),
      ];
      for (const attempt of attempts) {
        const asShopper = await attempt(shopper.accessToken);
        expect(refusal(asShopper).code).toBe('FORBIDDEN');
        expect(asShopper.data).toBeNull();
        const anonymous = await attempt();
        expect(refusal(anonymous).code).toBe('UNAUTHENTICATED');
        expect(anonymous.data).toBeNull();
      }
      expect((await stack.gql(PRODUCT_BY_SKU, { sku: input.sku })).data!.productBySku).toBeNull();
      expect((await stack.gql(PRODUCT, { id: product.id })).data!.product).toEqual(product);
    });

    const tooMany = <T>(count: number, make: (i: number) => T) => Array.from({ length: count }, (_, i) => make(i));
    const invalidCreates: Array<[string, Partial<CreateProductInput>, string]> = [
      ['an empty SKU', { sku: '' }, 'input.sku'],
      ['a SKU with a space', { sku: 'AB 12' }, 'input.sku'],
      ['a SKU with a slash', { sku: 'AB/12' }, 'input.sku'],
      ['a 65-character SKU', { sku: 'A'.repeat(65) }, 'input.sku'],
      ['an empty name', { name: '' }, 'input.name'],
      ['a blank name', { name: '   ' }, 'input.name'],
      ['a 201-character name', { name: 'n'.repeat(201) }, 'input.name'],
      ['an empty category', { category: '' }, 'input.category'],
      ['a 101-character category', { category: 'c'.repeat(101) }, 'input.category'],
      ['a 5001-character description', { description: 'd'.repeat(5001) }, 'input.description'],
      ['a negative price', { price: { amount: -1 } }, 'input.price.amount'],
      ['a price of 10^9 minor units', { price: { amount: 1_000_000_000 } }, 'input.price.amount'],
      ['a lowercase currency', { price: { amount: 100, currency: 'usd' } }, 'input.price.currency'],
      ['a 2-letter currency', { price: { amount: 100, currency: 'US' } }, 'input.price.currency'],
      ['a 4-letter currency', { price: { amount: 100, currency: 'USDT' } }, 'input.price.currency'],
      ['an ftp image', { images: ['https://ok.example.com/a.png', 'ftp://example.com/b.png'] }, 'input.images[1]'],
      ['an image that is no URL', { images: ['just text'] }, 'input.images[0]'],
      ['a javascript: image', { images: ['javascript:alert(1)'] }, 'input.images[0]'],
      ['21 images', { images: tooMany(21, (i) => `https://cdn.example.com/${i}.png`) }, 'input.images'],
      ['attributes that are an array', { attributes: ['red'] }, 'input.attributes'],
      ['attributes that are a string', { attributes: 'red' }, 'input.attributes'],
      ['attributes that are a number', { attributes: 42 }, 'input.attributes'],
      ['51 attributes', { attributes: Object.fromEntries(tooMany(51, (i) => [`k${i}`, i])) }, 'input.attributes'],
    ];
    it.each(invalidCreates.map(([label, change, field]) => ({ label, change, field })))('refuses $label: BAD_USER_INPUT on $field', async ({ change, field }) => {
      const input = { ...validInput(), ...change };
      const response = await stack.gql(CREATE_PRODUCT, { input }, { token: admin.accessToken });
      expect(refusal(response)).toEqual({ code: 'BAD_USER_INPUT', field });
      expect(response.errors![0]!.message).not.toMatch(/prisma|sql|constraint/i);
      // Nothing was stored: no product has the attempt's SKU or its (unique) category, whichever of them was the bad one.
      expect(await prisma.product.count({ where: { OR: [{ sku: input.sku }, { category: input.category }] } })).toBe(0);
    });

    it('accepts the limits themselves', async () => {
      const input = {
        sku: `${uniqueSku('EDGE')}.x_y`.slice(0, 64),
        name: 'n'.repeat(200),
        category: `c-${uniqueTag()}`.padEnd(100, 'c'),
        description: 'd'.repeat(5000),
        price: { amount: 999_999_999, currency: 'JPY' },
        attributes: Object.fromEntries(tooMany(50, (i) => [`k${i}`, i])),
        images: tooMany(20, (i) => `https://cdn.example.com/${i}.png`),
      };
      const response = await stack.gql(CREATE_PRODUCT, { input }, { token: admin.accessToken });
      expect(response.errors).toBeUndefined();
      expect(response.data!.createProduct).toMatchObject(input);
    });

    it('checks updates the same way, and required fields cannot be cleared', async () => {
      const product = await createProduct(stack, admin.accessToken, { name: 'Checked', category: `checked-${uniqueTag()}` });
      const token = admin.accessToken;
      const cases: Array<[UpdateProductInput, string]> = [
        [{ name: null }, 'input.name'],
        [{ sku: null }, 'input.sku'],
        [{ category: null }, 'input.category'],
        [{ price: null }, 'input.price'],
        [{ name: '' }, 'input.name'],
        [{ sku: 'bad sku' }, 'input.sku'],
        [{ price: { amount: -5 } }, 'input.price.amount'],
        [{ price: { amount: 5, currency: 'eur' } }, 'input.price.currency'],
        [{ attributes: [1, 2] }, 'input.attributes'],
        [{ images: ['mailto:someone@example.com'] }, 'input.images[0]'],
      ];
      for (const [input, field] of cases) {
        expect(refusal(await stack.gql(UPDATE_PRODUCT, { id: product.id, input }, { token }))).toEqual({ code: 'BAD_USER_INPUT', field });
      }
      expect(refusal(await stack.gql(UPDATE_PRODUCT, { id: 'nope', input: { name: 'x' } }, { token }))).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });
      expect(refusal(await stack.gql(UPDATE_PRODUCT, { id: '00000000-0000-4000-8000-000000000000', input: { name: 'x' } }, { token })).code).toBe('NOT_FOUND');
      expect((await stack.gql(PRODUCT, { id: product.id })).data!.product).toEqual(product);
    });

    it('refuses a SKU that is taken with CONFLICT naming it, on create and on update', async () => {
      const token = admin.accessToken;
      const category = `dupes-${uniqueTag()}`;
      const [first, second] = await createProducts(stack, token, [
        { name: 'First', category },
        { name: 'Second', category },
      ]);

      const duplicate = await stack.gql(CREATE_PRODUCT, { input: { ...validInput(), sku: first!.sku } }, { token });
      expect(refusal(duplicate)).toEqual({ code: 'CONFLICT', field: 'input.sku' });
      expect(duplicate.errors![0]!.extensions!.sku).toBe(first!.sku);
      expect(duplicate.errors![0]!.message).toContain(`"${first!.sku}"`);

      const clash = await stack.gql(UPDATE_PRODUCT, { id: second!.id, input: { sku: first!.sku, name: 'Renamed' } }, { token });
      expect(refusal(clash)).toEqual({ code: 'CONFLICT', field: 'input.sku' });
      expect(clash.errors![0]!.message).toContain(first!.sku);
      // The failed update changed nothing, not even the name given with it.
      expect((await stack.gql(PRODUCT, { id: second!.id })).data!.product).toEqual(second);

      // Concurrent creates with one SKU: exactly one wins.
      const sku = uniqueSku('RACE');
      const results = await Promise.all(Array.from({ length: 4 }, () => stack.gql(CREATE_PRODUCT, { input: { ...validInput(), sku } }, { token })));
      expect(results.filter((r) => !r.errors)).toHaveLength(1);
      expect(results.filter((r) => refusal(r).code === 'CONFLICT')).toHaveLength(3);
    });
  });

  describe('soft delete', () => {
    let jwt: JwtService;
    beforeAll(async () => {
      jwt = await JwtService.create(loadGatewayConfig(testEnv()));
    });

    it('hides a deleted product from lookups and lists, but an entity reference (an old order) still resolves it', async () => {
      const token = admin.accessToken;
      const category = `deleted-${uniqueTag()}`;
      const [kept, gone] = await createProducts(stack, token, [
        { name: 'Kept Kettle', category },
        { name: 'Gone Kettle', category },
      ]);
      const deleted = await stack.gql(DELETE_PRODUCT, { id: gone!.id }, { token });
      expect(deleted.data).toEqual({ deleteProduct: { id: gone!.id } });

      expect((await stack.gql(PRODUCT, { id: gone!.id })).data!.product).toBeNull();
      expect((await stack.gql(PRODUCT_BY_SKU, { sku: gone!.sku })).data!.productBySku).toBeNull();
      const listed = await listProducts(stack, { filter: { category } });
      expect(listed.edges.map((e) => e.node.id)).toEqual([kept!.id]);
      expect(listed.totalCount).toBe(1);
      expect((await listProducts(stack, { filter: { category, search: 'kettle' } })).edges.map((e) => e.node.id)).toEqual([kept!.id]);

      // What the order subgraph's reference resolves to, asked of the catalog directly with a service token.
      const entities = await graphql(
        stack.urls.catalog,
        ENTITIES,
        { representations: [{ __typename: 'Product', id: gone!.id }, { __typename: 'Product', id: kept!.id }, { __typename: 'Product', id: '00000000-0000-4000-8000-000000000000' }] },
        { token: await jwt.signService('order') },
      );
      expect(entities.errors).toBeUndefined();
      expect(entities.data!._entities).toEqual([
        { id: gone!.id, name: 'Gone Kettle' },
        { id: kept!.id, name: 'Kept Kettle' },
        null,
      ]);

      // Deleted is deleted: no second delete, no update; its SKU stays taken.
      expect(refusal(await stack.gql(DELETE_PRODUCT, { id: gone!.id }, { token })).code).toBe('NOT_FOUND');
      expect(refusal(await stack.gql(UPDATE_PRODUCT, { id: gone!.id, input: { name: 'Back' } }, { token })).code).toBe('NOT_FOUND');
      expect(refusal(await stack.gql(CREATE_PRODUCT, { input: { ...validInput(), sku: gone!.sku } }, { token })).code).toBe('CONFLICT');
      expect(refusal(await stack.gql(DELETE_PRODUCT, { id: 'nope' }, { token }))).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });
    });
  });
});

describe('entity references are batched: a page costs the same few statements whatever its size', () => {
  const typeDefs = loadTypeDefs(CATALOG_SCHEMA_FILE);
  const base = useFileDatabase({ max: 2 });
  let server: ApolloServer<CatalogContext>;
  let statements: string[];
  let counted: PrismaClient;
  const ids: string[] = [];
  const category = `batch-${uniqueTag()}`;

  beforeAll(async () => {
    statements = [];
    // Each Prisma operation below (findMany, $queryRaw) is one SQL statement.
    counted = countingStatements(base, statements);
    const services = createCatalogServices(counted);
    for (let i = 0; i < 50; i++) {
      ids.push((await services.products.create({ sku: uniqueSku('BATCH'), name: `Batch Widget ${i}`, category, price: { amount: 100 + i, currency: 'USD' } })).id);
    }
    server = new ApolloServer<CatalogContext>({
      schema: subgraphSchema(typeDefs, resolvers),
      plugins: [ApolloServerPluginInlineTraceDisabled()],
    });
    await server.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function run(query: string, variables: Record<string, unknown>) {
    statements.length = 0;
    const contextValue = createCatalogContext({ identity: { kind: 'service', service: 'order' }, requestId: 'test' }, createCatalogServices(counted));
    const response = await server.executeOperation({ query, variables }, { contextValue });
    if (response.body.kind !== 'single') throw new Error('expected a single result');
    expect(response.body.singleResult.errors).toBeUndefined();
    return { data: response.body.singleResult.data as Record<string, any>, statements: [...statements] };
  }

  it('resolves 50 entity references with one query', async () => {
    const representations = ids.map((id) => ({ __typename: 'Product', id }));
    const { data, statements: used } = await run(ENTITIES, { representations });
    expect(data._entities.map((p: { id: string }) => p.id)).toEqual(ids);
    expect(used).toEqual(['Product.findMany']);
    expect((await run(ENTITIES, { representations: representations.slice(0, 2) })).statements).toEqual(['Product.findMany']);
  });

  it('lists a page of 50 with its total in one statement with a search, two without, as for a page of 5', async () => {
    const query = /* GraphQL */ `
      query ($filter: ProductFilter, $first: Int) { products(filter: $filter, first: $first) { totalCount edges { node { id name price { amount } } } } }
    `;
    for (const filter of [{ category }, { category, search: 'widget' }]) {
      const big = await run(query, { filter, first: 50 });
      const small = await run(query, { filter, first: 5 });
      expect(big.data.products.edges).toHaveLength(50);
      expect(big.data.products.totalCount).toBe(50);
      expect(small.data.products.edges).toHaveLength(5);
      // A search ranks every match anyway, so it counts them in the same statement; a plain listing counts apart.
      expect(big.statements).toEqual(filter.search ? ['.$queryRaw'] : ['.$queryRaw', '.$queryRaw']);
      expect(small.statements).toEqual(big.statements);
    }
    // Without totalCount and without a search: only the page.
    expect((await run(`query ($c: String) { products(filter: { category: $c }, first: 50) { edges { node { id } } } }`, { c: category })).statements).toEqual(['.$queryRaw']);
  });
});
