import { FakeTelegram } from '../../../test/support/fake-telegram';
import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { DELETE_PRODUCT, UPDATE_PRODUCT, PRODUCTS, catalogDatabase, createProduct, createProducts, listProducts, names, randomWord, refusal, uniqueTag } from './catalog-support';
import type { ProductFilter, ProductsVariables } from './catalog-support';

/** A typo: two different neighbouring letters in the middle swapped ("keyboard" -> "keybaord"). */
function swapLetters(word: string): string {
  for (let i = Math.floor(word.length / 2) - 1; i < word.length - 2; i++) {
    if (word[i] !== word[i + 1]) return word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);
  }
  throw new Error(`no letters to swap in ${word}`);
}

describe('searching products: ranked, stemmed, tolerant of typos', () => {
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

  const search = (text: string, filter: ProductFilter = {}, extra: Omit<ProductsVariables, 'filter'> = {}) =>
    listProducts(stack, { filter: { search: text, ...filter }, ...extra });

  it('ranks a match in the name above one in the category, above one in the description', async () => {
    const word = randomWord();
    // Created weakest first, so creation order cannot explain the result.
    await createProducts(stack, admin.accessToken, [
      { name: 'Plain Notebook', category: `stationery-${uniqueTag()}`, description: `Pairs well with the ${word} pen.` },
      { name: 'Ballpoint Pen', category: `${word} writing` },
      { name: `The ${word} Pencil`, category: `stationery-${uniqueTag()}` },
    ]);
    const page = await search(word);
    expect(names(page)).toEqual([`The ${word} Pencil`, 'Ballpoint Pen', 'Plain Notebook']);
    expect(page.totalCount).toBe(3);
    expect(names(await search(word, {}, { sort: 'RELEVANCE' }))).toEqual(names(page));
  });

  it('stems English words: "running" finds "Run", "batteries" finds "Battery"', async () => {
    const category = `stems-${uniqueTag()}`;
    await createProducts(stack, admin.accessToken, [
      { name: 'Trail Run Shoes', category },
      { name: 'Running Socks', category }, // makes "running" a known word: no typo correction can explain the match
      { name: 'AA Battery', category },
      { name: 'Spare Batteries Case', category },
      { name: 'Umbrella', category },
    ]);
    expect(names(await search('running', { category })).sort()).toEqual(['Running Socks', 'Trail Run Shoes']);
    expect(names(await search('batteries', { category })).sort()).toEqual(['AA Battery', 'Spare Batteries Case']);
    expect(names(await search('battery', { category })).sort()).toEqual(['AA Battery', 'Spare Batteries Case']);
  });

  it('forgives a typo: "keybaord" finds "Keyboard", "hedphones" finds "Headphones"', async () => {
    const category = `typos-${uniqueTag()}`;
    await createProducts(stack, admin.accessToken, [
      { name: 'Mechanical Keyboard', category },
      { name: 'Wireless Headphones', category },
      { name: 'Desk Mat', category, description: 'Under your keyboard.' },
    ]);
    expect(names(await search('keybaord', { category }))).toEqual(['Mechanical Keyboard', 'Desk Mat']);
    expect(names(await search('hedphones', { category }))).toEqual(['Wireless Headphones']);
    expect(names(await search('wireles hedphones', { category }))).toEqual(['Wireless Headphones']);
    // Every word must still match.
    expect(names(await search('keybaord hedphones', { category }))).toEqual([]);
  });

  it('does not correct a word it knows: "cart" finds the cart, not the card', async () => {
    const category = `known-${uniqueTag()}`;
    await createProducts(stack, admin.accessToken, [
      { name: 'Shopping Cart', category },
      { name: 'Gift Card', category },
    ]);
    expect(names(await search('cart', { category }))).toEqual(['Shopping Cart']);
    expect(names(await search('card', { category }))).toEqual(['Gift Card']);
  });

  it('learns the words of new and renamed products, so their typos are forgiven too', async () => {
    const [first, second] = [randomWord(), randomWord()];
    const product = await createProduct(stack, admin.accessToken, { name: `Gizmo ${first}`, category: `learned-${uniqueTag()}` });
    expect(names(await search(swapLetters(first)))).toEqual([`Gizmo ${first}`]);
    expect(names(await search(swapLetters(second)))).toEqual([]);

    const renamed = await stack.gql(UPDATE_PRODUCT, { id: product.id, input: { name: `Gizmo ${second}` } }, { token: admin.accessToken });
    expect(renamed.errors).toBeUndefined();
    expect(names(await search(swapLetters(second)))).toEqual([`Gizmo ${second}`]);
    expect(names(await search(first))).toEqual([]); // the search document follows the new name
    const words = await db.prisma.searchWord.findMany({ where: { word: { in: [first, second] } } });
    expect(words.map((w) => w.word).sort()).toEqual([first, second].sort());
  });

  it('matches the last word as a prefix while it is being typed, and not once a space follows it', async () => {
    const category = `prefix-${uniqueTag()}`;
    await createProducts(stack, admin.accessToken, [
      { name: 'Key Ring', category }, // makes "key" a known word
      { name: 'Keyboard Cover', category },
      { name: 'Cover Glass', category },
    ]);
    expect(names(await search('key', { category })).sort()).toEqual(['Key Ring', 'Keyboard Cover']);
    expect(names(await search('key ', { category }))).toEqual(['Key Ring']);
    expect(names(await search('cover key', { category }))).toEqual(['Keyboard Cover']);
    // Only the last word is a prefix.
    expect(names(await search('key cover', { category }))).toEqual([]);
  });

  it('combines a search with the other filters and sorts, and counts every match', async () => {
    const category = `combined-${uniqueTag()}`;
    const products = await createProducts(stack, admin.accessToken, [
      { name: 'Red Running Shoes', category, price: { amount: 5000 } },
      { name: 'Blue Running Shoes', category, price: { amount: 7000 } },
      { name: 'Running Socks', category, price: { amount: 1000 } },
      { name: 'Hiking Boots', category, price: { amount: 3000 }, description: 'Not for running.' },
      { name: 'Sun Hat', category, price: { amount: 2000 } },
    ]);
    await db.setInStock([products[0]!.id, products[2]!.id, products[3]!.id], true);

    const all = await search('running', { category });
    expect(all.totalCount).toBe(4);
    expect(names(all).at(-1)).toBe('Hiking Boots'); // the description match comes last
    expect(names(await search('running', { category, inStock: true, maxPrice: 5000 }, { sort: 'PRICE_ASC' }))).toEqual(['Running Socks', 'Hiking Boots', 'Red Running Shoes']);
    expect(names(await search('running', { category, minPrice: 5000 }, { sort: 'PRICE_DESC' }))).toEqual(['Blue Running Shoes', 'Red Running Shoes']);
    expect(names(await search('running', { category }, { sort: 'NEWEST' }))).toEqual(['Hiking Boots', 'Running Socks', 'Blue Running Shoes', 'Red Running Shoes']);

    // Page by page through the ranked matches.
    const first = await search('running', { category }, { first: 3 });
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await search('running', { category }, { first: 3, after: first.pageInfo.endCursor });
    expect([...names(first), ...names(second)]).toEqual(names(all));
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect(second.totalCount).toBe(4);
  });

  it('follows every product write in the same transaction: price, category, stock, deletion', async () => {
    const [category, moved] = [`follows-${uniqueTag()}`, `follows-${uniqueTag()}`];
    const [lamp, stand] = await createProducts(stack, admin.accessToken, [
      { name: 'Follower Lamp', category, price: { amount: 3000 } },
      { name: 'Follower Stand', category, price: { amount: 1000 } },
    ]);
    const cheapest = async (filter: ProductFilter) => names(await search('follower', filter, { sort: 'PRICE_ASC' }));
    expect(await cheapest({ category })).toEqual(['Follower Stand', 'Follower Lamp']);

    const repriced = await stack.gql(UPDATE_PRODUCT, { id: lamp!.id, input: { price: { amount: 500, currency: 'USD' } } }, { token: admin.accessToken });
    expect(repriced.errors).toBeUndefined();
    expect(await cheapest({ category })).toEqual(['Follower Lamp', 'Follower Stand']);

    await db.setInStock([stand!.id], true); // as the stock projection writes it
    expect(await cheapest({ category, inStock: true })).toEqual(['Follower Stand']);
    expect(await cheapest({ category, inStock: false })).toEqual(['Follower Lamp']);

    const recategorised = await stack.gql(UPDATE_PRODUCT, { id: stand!.id, input: { category: moved } }, { token: admin.accessToken });
    expect(recategorised.errors).toBeUndefined();
    expect(await cheapest({ category })).toEqual(['Follower Lamp']);
    expect(await cheapest({ category: moved, inStock: true })).toEqual(['Follower Stand']);

    expect((await stack.gql(DELETE_PRODUCT, { id: lamp!.id }, { token: admin.accessToken })).errors).toBeUndefined();
    expect(await search('follower', { category })).toMatchObject({ edges: [], totalCount: 0 });
    const rows = await db.prisma.productSearch.findMany({ where: { id: { in: [lamp!.id, stand!.id] } }, select: { id: true, category: true, priceAmount: true, inStock: true } });
    expect(rows).toEqual([{ id: stand!.id, category: moved, priceAmount: 1000, inStock: true }]);
  });

  it('treats query syntax as plain words, finds nothing for stop words alone, and refuses an overlong search', async () => {
    const category = `syntax-${uniqueTag()}`;
    await createProducts(stack, admin.accessToken, [{ name: "Child's Wooden Toy", category }]);
    expect(names(await search(`"wooden" & (toy) | !child's:* <-> '`, { category }))).toEqual(["Child's Wooden Toy"]);
    const stopWords = await search('the and of', { category });
    expect(stopWords).toMatchObject({ edges: [], totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null } });
    // A search without words is no search.
    expect(names(await search('   ', { category }))).toEqual(["Child's Wooden Toy"]);
    expect(names(await search('?!', { category }))).toEqual(["Child's Wooden Toy"]);

    expect(refusal(await stack.gql(PRODUCTS, { filter: { search: 'a'.repeat(201) } }))).toEqual({ code: 'BAD_USER_INPUT', field: 'filter.search' });
    expect(refusal(await stack.gql(PRODUCTS, { filter: { search: 'one two three four five six seven eight nine ten eleven' } }))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'filter.search',
    });
  });
});
