import { FakeTelegram } from '../../../test/support/fake-telegram';
import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import {
  PRODUCTS,
  catalogDatabase,
  createProduct,
  createProducts,
  listProducts,
  names,
  refusal,
  uniqueTag,
  walkAll,
  type ListedProduct,
  type ProductFilter,
  type ProductsVariables,
} from './catalog-support';

type Sort = 'PRICE_ASC' | 'PRICE_DESC' | 'NEWEST';

/** The order the API promises: the sort key, then the id (as PostgreSQL orders UUIDs), in the same direction. */
function expectedOrder(products: ListedProduct[], sort: Sort): string[] {
  const key = (p: ListedProduct) => (sort === 'NEWEST' ? p.createdAt : p.price.amount);
  const ascending = sort === 'PRICE_ASC';
  return [...products]
    .sort((a, b) => {
      const [ka, kb] = [key(a), key(b)];
      const byKey = ka < kb ? -1 : ka > kb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
      return ascending ? byKey : -byKey;
    })
    .map((p) => p.id);
}

const ids = (nodes: ListedProduct[]) => nodes.map((node) => node.id);

describe('listing products: filters, sorts and pages', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let stack: Stack;
  let telegram: FakeTelegram;
  let admin: Session;
  const db = catalogDatabase();
  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    admin = await login(stack, telegram, adminPhone);
  });

  describe('filters', () => {
    const category = `filters-${uniqueTag()}`;
    beforeAll(async () => {
      const [alpha, , charlie] = await createProducts(stack, admin.accessToken, [
        { name: 'Alpha', category, price: { amount: 1000 }, attributes: { color: 'red', size: 42 } },
        { name: 'Bravo', category, price: { amount: 2000 }, attributes: { color: 'blue', size: 42 } },
        { name: 'Charlie', category, price: { amount: 3000 }, attributes: { color: 'red', size: 44, tags: ['sale'] } },
        { name: 'Delta', category, price: { amount: 4000 } },
      ]);
      await db.setInStock([alpha!.id, charlie!.id], true);
      // Same names elsewhere: the category filter keeps them out.
      await createProduct(stack, admin.accessToken, { name: 'Alpha', category: `${category}-other`, price: { amount: 1000 } });
    });

    const list = async (filter: ProductFilter) => names(await listProducts(stack, { filter: { category, ...filter }, sort: 'PRICE_ASC' }));

    it('by category, exactly', async () => {
      const page = await listProducts(stack, { filter: { category } });
      expect(names(page)).toEqual(['Delta', 'Charlie', 'Bravo', 'Alpha']);
      expect(page.totalCount).toBe(4);
      expect(names(await listProducts(stack, { filter: { category: category.toUpperCase() } }))).toEqual([]);
    });

    it('by price, bounds included', async () => {
      expect(await list({ minPrice: 2000 })).toEqual(['Bravo', 'Charlie', 'Delta']);
      expect(await list({ maxPrice: 3000 })).toEqual(['Alpha', 'Bravo', 'Charlie']);
      expect(await list({ minPrice: 2000, maxPrice: 3000 })).toEqual(['Bravo', 'Charlie']);
      expect(await list({ minPrice: 2001, maxPrice: 2999 })).toEqual([]);
    });

    it('by stock', async () => {
      expect(await list({ inStock: true })).toEqual(['Alpha', 'Charlie']);
      expect(await list({ inStock: false })).toEqual(['Bravo', 'Delta']);
    });

    it('by attributes: each one must equal its value, type included', async () => {
      expect(await list({ attributes: [{ key: 'color', value: 'red' }] })).toEqual(['Alpha', 'Charlie']);
      expect(await list({ attributes: [{ key: 'color', value: 'red' }, { key: 'size', value: 44 }] })).toEqual(['Charlie']);
      expect(await list({ attributes: [{ key: 'size', value: 42 }] })).toEqual(['Alpha', 'Bravo']);
      expect(await list({ attributes: [{ key: 'size', value: '42' }] })).toEqual([]);
      expect(await list({ attributes: [{ key: 'tags', value: ['sale'] }] })).toEqual(['Charlie']);
      expect(await list({ attributes: [{ key: 'weight', value: 1 }] })).toEqual([]);
    });

    it('all together, with a search', async () => {
      expect(await list({ inStock: true, maxPrice: 2500 })).toEqual(['Alpha']);
      expect(await list({ inStock: false, attributes: [{ key: 'size', value: 42 }] })).toEqual(['Bravo']);
      expect(await list({ search: 'charlie', inStock: true, minPrice: 3000, maxPrice: 3000, attributes: [{ key: 'color', value: 'red' }] })).toEqual(['Charlie']);
      expect(await list({ search: 'charlie', inStock: false })).toEqual([]);
      const counted = await listProducts(stack, { filter: { category, inStock: true }, first: 1 });
      expect(counted.totalCount).toBe(2);
      expect(counted.edges).toHaveLength(1);
    });

    it('refuses impossible bounds, naming the field', async () => {
      expect(refusal(await stack.gql(PRODUCTS, { filter: { category, minPrice: -1 } }))).toEqual({ code: 'BAD_USER_INPUT', field: 'filter.minPrice' });
      expect(refusal(await stack.gql(PRODUCTS, { filter: { category, maxPrice: -1 } }))).toEqual({ code: 'BAD_USER_INPUT', field: 'filter.maxPrice' });
      expect(refusal(await stack.gql(PRODUCTS, { filter: { category, minPrice: 5, maxPrice: 4 } }))).toEqual({ code: 'BAD_USER_INPUT', field: 'filter.maxPrice' });
      expect(refusal(await stack.gql(PRODUCTS, { filter: { category, attributes: [{ key: '', value: 1 }] } }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'filter.attributes[0].key',
      });
    });
  });

  describe('sorts and pages', () => {
    const category = `pages-${uniqueTag()}`;
    let products: ListedProduct[];
    beforeAll(async () => {
      // Repeated prices, so the id has to break ties.
      const prices = [500, 900, 500, 1200, 300, 900, 500, 700, 1500, 300, 900, 100, 500, 800, 2000, 1100, 500, 600, 900, 400, 300, 1000, 700];
      products = await createProducts(stack, admin.accessToken, prices.map((amount, i) => ({ name: `Paged ${i}`, category, price: { amount } })));
    });

    it.each<[Sort]>([['PRICE_ASC'], ['PRICE_DESC'], ['NEWEST']])('sorts by %s, ties broken by id', async (sort) => {
      const page = await listProducts(stack, { filter: { category }, sort, first: 100 });
      expect(ids(page.edges.map((e) => e.node))).toEqual(expectedOrder(products, sort));
      expect(page.pageInfo.hasNextPage).toBe(false);
    });

    it('sorts by NEWEST when asked for RELEVANCE without a search (the default)', async () => {
      const newest = ids((await listProducts(stack, { filter: { category }, sort: 'NEWEST' })).edges.map((e) => e.node));
      expect(ids((await listProducts(stack, { filter: { category }, sort: 'RELEVANCE' })).edges.map((e) => e.node))).toEqual(newest);
      expect(ids((await listProducts(stack, { filter: { category } })).edges.map((e) => e.node))).toEqual(newest);
    });

    it.each<[Sort, number]>([
      ['PRICE_ASC', 4],
      ['PRICE_DESC', 5],
      ['NEWEST', 1],
      ['NEWEST', 7],
    ])('walks every page of %s (%i a page) once, without duplicates or gaps', async (sort, first) => {
      let pages = 0;
      const walked = await walkAll(stack, { filter: { category }, sort, first }, async (page) => {
        pages++;
        expect(page.totalCount).toBe(products.length);
        expect(page.edges.length).toBeLessThanOrEqual(first);
        expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
      });
      expect(ids(walked)).toEqual(expectedOrder(products, sort));
      expect(pages).toBe(Math.ceil(products.length / first));
    });

    it('caps first at 100 and refuses less than 1', async () => {
      expect(refusal(await stack.gql(PRODUCTS, { filter: { category }, first: 101 }))).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
      expect(refusal(await stack.gql(PRODUCTS, { filter: { category }, first: 0 }))).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
      expect(refusal(await stack.gql(PRODUCTS, { filter: { category }, first: -3 }))).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
      const max = await stack.gql(PRODUCTS, { filter: { category }, first: 100 });
      expect(max.errors).toBeUndefined();
      expect(max.data!.products.edges).toHaveLength(products.length);
      expect((await listProducts(stack, { filter: { category } })).edges).toHaveLength(20); // the default
    });

    it('refuses a cursor it did not give, or one of another sort, naming `after`', async () => {
      const priceCursor = (await listProducts(stack, { filter: { category }, sort: 'PRICE_ASC', first: 2 })).pageInfo.endCursor!;
      const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const bad = [
        'garbage',
        '',
        forged([1, 2]),
        forged({ s: 'PRICE_ASC', k: 'cheap', id: products[0]!.id }),
        forged({ s: 'PRICE_ASC', k: 1e12, id: products[0]!.id }),
        forged({ s: 'PRICE_ASC', k: 500, id: "x'; DROP TABLE catalog.products; --" }),
        forged({ s: 'NEWEST', k: 'not a date', id: products[0]!.id }),
      ];
      for (const after of bad.filter(Boolean)) {
        expect(refusal(await stack.gql(PRODUCTS, { filter: { category }, sort: 'PRICE_ASC', after }))).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
      }
      expect(refusal(await stack.gql(PRODUCTS, { filter: { category }, sort: 'NEWEST', after: priceCursor }))).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
      expect((await stack.gql(PRODUCTS, { filter: { category }, sort: 'PRICE_ASC', after: priceCursor })).errors).toBeUndefined();
    });
  });

  describe('walking while products are inserted', () => {
    /** Walks the list; after each page but the last, `insert` adds products. Returns what was seen. */
    async function walkWhileInserting(variables: ProductsVariables, insert: (page: number) => Promise<void>) {
      let pages = 0;
      return walkAll(stack, variables, async (page) => {
        if (page.pageInfo.hasNextPage) await insert(pages++);
      });
    }

    const expectEachOnce = (seen: string[], originals: string[]) => {
      expect(new Set(seen).size).toBe(seen.length); // no duplicates
      for (const id of originals) expect(seen.filter((s) => s === id)).toHaveLength(1); // no gaps
    };

    it('PRICE_ASC: products inserted behind the cursor are not seen, those ahead are, and nothing repeats or goes missing', async () => {
      const category = `stable-price-${uniqueTag()}`;
      const originals = await createProducts(stack, admin.accessToken, Array.from({ length: 12 }, (_, i) => ({ name: `Original ${i}`, category, price: { amount: 1000 + 100 * Math.floor(i / 2) } })));
      const behind: string[] = [];
      const ahead: string[] = [];
      const seen = await walkWhileInserting({ filter: { category }, sort: 'PRICE_ASC', first: 3 }, async (page) => {
        const [low, high] = await Promise.all([
          createProduct(stack, admin.accessToken, { name: `Cheap ${page}`, category, price: { amount: 10 } }),
          createProduct(stack, admin.accessToken, { name: `Dear ${page}`, category, price: { amount: 9000 + page } }),
          // Same price as products around the cursor: the id decides on which side it lands.
          createProduct(stack, admin.accessToken, { name: `Tie ${page}`, category, price: { amount: 1000 + 100 * page } }),
        ]);
        behind.push(low.id);
        ahead.push(high.id);
      });
      const seenIds = ids(seen);
      expectEachOnce(seenIds, ids(originals));
      for (const id of behind) expect(seenIds).not.toContain(id);
      for (const id of ahead) expect(seenIds).toContain(id);
      // What was seen is in order, whatever the inserts did.
      expect(seenIds).toEqual(expectedOrder(seen, 'PRICE_ASC'));
    });

    it('NEWEST: new products land before the cursor, so the walk sees exactly the products that were there', async () => {
      const category = `stable-newest-${uniqueTag()}`;
      const originals = await createProducts(stack, admin.accessToken, Array.from({ length: 10 }, (_, i) => ({ name: `Original ${i}`, category })));
      const inserted: string[] = [];
      const seen = await walkWhileInserting({ filter: { category }, sort: 'NEWEST', first: 3 }, async () => {
        inserted.push(...ids(await createProducts(stack, admin.accessToken, [{ name: 'Newer A', category }, { name: 'Newer B', category }])));
      });
      expect(ids(seen)).toEqual(expectedOrder(originals, 'NEWEST'));
      expect(inserted).toHaveLength(6); // two after each of the first three pages
    });

    it('RELEVANCE: better and equal matches inserted while walking a search never repeat or hide a result', async () => {
      const category = `stable-search-${uniqueTag()}`;
      const originals = await createProducts(stack, admin.accessToken, Array.from({ length: 10 }, (_, i) => ({ name: `Thing ${i}`, category, description: 'A sturdy lantern.' })));
      const seen = await walkWhileInserting({ filter: { category, search: 'lantern' }, first: 3 }, async (page) => {
        await createProducts(stack, admin.accessToken, [
          { name: `Lantern ${page}`, category }, // ranks higher: behind the cursor
          { name: `Thing extra ${page}`, category, description: 'A sturdy lantern.' }, // ranks the same: the id decides
        ]);
      });
      expectEachOnce(ids(seen), ids(originals));
      expect(seen.filter((node) => node.name.startsWith('Lantern'))).toEqual([]);
    });
  });
});
