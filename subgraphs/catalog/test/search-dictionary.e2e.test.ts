import type { PrismaClient } from '../../../kernel/src/prisma';
import { countingStatements, useFileDatabase } from '../../../test/support/database';
import { ProductListing } from '../src/listing';
import { ProductService } from '../src/products';
import { CORRECTION_TTL_MS, SearchDictionary } from '../src/search';
import { randomWord, uniqueSku, uniqueTag } from './catalog-support';

/** "abcdef" -> "abdcef": a typo the dictionary should correct. */
function swapLetters(word: string): string {
  for (let i = Math.floor(word.length / 2) - 1; i < word.length - 2; i++) {
    if (word[i] !== word[i + 1]) return word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);
  }
  throw new Error(`no letters to swap in ${word}`);
}

describe('the terms of search words, remembered by each catalog process', () => {
  const base = useFileDatabase();
  let counted: PrismaClient;
  let statements: string[];

  beforeAll(() => {
    statements = [];
    counted = countingStatements(base, statements);
  });

  /** A second catalog process (a replica): its own dictionary, on a clock the test moves. */
  function replica() {
    const clock = { now: 1_000_000 };
    const listing = new ProductListing(counted, new SearchDictionary(() => clock.now));
    const search = async (text: string, category?: string) => {
      statements.length = 0;
      const page = await listing.list({ filter: { search: text, category }, first: 10 });
      return { names: page.edges.map((edge) => edge.node.name), total: await page.totalCount(), statements: [...statements] };
    };
    return { clock, search };
  }

  it('a known word is looked up once, then searched with one statement carrying its term', async () => {
    const category = `dict-${uniqueTag()}`;
    const writer = new ProductService(base, undefined, new SearchDictionary());
    await writer.create({ sku: uniqueSku(), name: 'Walnut Cutting Board', category, price: { amount: 1500, currency: 'USD' } });
    const { search } = replica();
    expect(await search('walnut board', category)).toEqual({ names: ['Walnut Cutting Board'], total: 1, statements: ['.$queryRaw'] });
    // Same results, same single statement, whether the terms were worked out in it or remembered.
    expect(await search('walnut board', category)).toEqual({ names: ['Walnut Cutting Board'], total: 1, statements: ['.$queryRaw'] });
    expect(await search('cuting', category)).toEqual({ names: ['Walnut Cutting Board'], total: 1, statements: ['.$queryRaw'] });
    // Stop words only: no term, nothing matches (as before any term was remembered).
    expect(await search('the and', category)).toMatchObject({ names: [], total: 0 });
    expect(await search('the and', category)).toMatchObject({ names: [], total: 0 });
  });

  it("another process's new words correct a typo within CORRECTION_TTL_MS; this process's own writes at once", async () => {
    const word = randomWord();
    const typo = swapLetters(word);
    const category = `dict-${uniqueTag()}`;
    const other = replica();
    const writerDictionary = new SearchDictionary();
    const writer = new ProductService(base, undefined, writerDictionary);
    const writerListing = new ProductListing(base, writerDictionary);
    const writerSearch = async (text: string) => (await writerListing.list({ filter: { search: text, category } })).edges.map((edge) => edge.node.name);

    // Nobody knows the word yet: the typo finds nothing, and both processes remember that.
    expect((await other.search(typo, category)).names).toEqual([]);
    expect(await writerSearch(typo)).toEqual([]);

    await writer.create({ sku: uniqueSku(), name: `Gadget ${word}`, category, price: { amount: 900, currency: 'USD' } });
    // The writer forgot its corrections when its write committed.
    expect(await writerSearch(typo)).toEqual([`Gadget ${word}`]);
    // The replica may reuse its correction for CORRECTION_TTL_MS, no longer.
    other.clock.now += CORRECTION_TTL_MS + 1;
    expect((await other.search(typo, category)).names).toEqual([`Gadget ${word}`]);
    // The exact word was never corrected, so it is found at once everywhere.
    expect((await other.search(word, category)).names).toEqual([`Gadget ${word}`]);
  });
});
