import { PREPARED, Prisma, type PrismaClient, type Product } from '../../../kernel/src/prisma';
import { badUserInput } from '../../../kernel/src/errors';
import { isUuid } from '../../../kernel/src/ids';
import { connection, decodeCursor, encodeCursor, pageSize, readTimestamp, type Connection } from '../../../kernel/src/pagination';
import { RANK_WEIGHTS, SearchDictionary, searchWords, type SearchTermsRow, type SearchWords } from './search';

import type { ProductFilter, ProductSort, QueryProductsArgs } from '../../../generated/graphql/catalog/resolvers';

/** What `products(...)` takes: filter, sort, first, after. */
export type ProductListArgs = Partial<QueryProductsArgs>;

export interface ProductConnection extends Connection<Product> {
  /** Matching products on all pages; counted only when asked for. */
  totalCount: () => Promise<number>;
}

const DEFAULT_PAGE_SIZE = 20;
const MAX_ATTRIBUTE_FILTERS = 20;

/** Every sort is a keyset on (key, id), both in the same direction, so a row comparison continues after a cursor. */
interface SortOrder {
  /** The sort key of `p` (catalog.products); `tsquery` is set when searching. */
  key: (tsquery: Prisma.Sql | null) => Prisma.Sql;
  direction: 'ASC' | 'DESC';
  /** Checks a key read back from a cursor and makes it a typed SQL parameter. */
  param: (key: unknown) => Prisma.Sql | undefined;
}

const finiteNumber = (key: unknown) => (typeof key === 'number' && Number.isFinite(key) ? Prisma.sql`${key}::float8` : undefined);
const price = (key: unknown) => (Number.isInteger(key) && (key as number) >= 0 && (key as number) <= 2 ** 31 - 1 ? Prisma.sql`${key}::int` : undefined);
const timestamp = (key: unknown) => {
  const at = readTimestamp(key);
  return at ? Prisma.sql`${at.toISOString()}::timestamptz` : undefined;
};

const SORTS: Record<ProductSort, SortOrder> = {
  // float8, so the key survives the trip through a JSON cursor exactly.
  RELEVANCE: { key: (q) => Prisma.sql`ts_rank(${RANK_WEIGHTS}, p.search_vector, ${q})::float8`, direction: 'DESC', param: finiteNumber },
  PRICE_ASC: { key: () => Prisma.sql`p.price_amount`, direction: 'ASC', param: price },
  PRICE_DESC: { key: () => Prisma.sql`p.price_amount`, direction: 'DESC', param: price },
  NEWEST: { key: () => Prisma.sql`p.created_at`, direction: 'DESC', param: timestamp },
};

/** The columns of a product under their Prisma names, so a raw row is a `Product`. */
const PRODUCT_COLUMNS = Prisma.sql`p.id, p.sku, p.name, p.description, p.category, p.price_amount AS "priceAmount", p.currency,
  p.attributes, p.images, p.in_stock AS "inStock", p.stock_version AS "stockVersion", p.deleted_at AS "deletedAt",
  p.created_at AS "createdAt", p.updated_at AS "updatedAt"`;

type PageRow = Product & { sortKey: number | Date };

interface Cursor {
  sort: ProductSort;
  key: Prisma.Sql;
  id: string;
}

function readCursor(after: string, sort: ProductSort): Cursor {
  return decodeCursor(
    after,
    'after',
    (value) => {
      const key = SORTS[sort].param(value.k);
      return value.s === sort && typeof value.id === 'string' && isUuid(value.id) && key ? { sort, key, id: value.id } : undefined;
    },
    'pass the endCursor of the previous page, with the same sort',
  );
}

function writeCursor(sort: ProductSort, row: PageRow): string {
  return encodeCursor({ s: sort, k: row.sortKey instanceof Date ? row.sortKey.toISOString() : row.sortKey, id: row.id });
}

/** The filter as SQL conditions on `p`, except the search itself and that the product is not deleted. */
function filterConditions(filter: ProductFilter): Prisma.Sql[] {
  const conditions: Prisma.Sql[] = [];
  if (filter.category != null) conditions.push(Prisma.sql`p.category = ${filter.category}`);
  const { minPrice, maxPrice } = filter;
  if (minPrice != null && minPrice < 0) throw badUserInput('filter.minPrice', '`minPrice` must not be negative.');
  if (maxPrice != null && maxPrice < 0) throw badUserInput('filter.maxPrice', '`maxPrice` must not be negative.');
  if (minPrice != null && maxPrice != null && minPrice > maxPrice) throw badUserInput('filter.maxPrice', '`maxPrice` must not be below `minPrice`.');
  if (minPrice != null) conditions.push(Prisma.sql`p.price_amount >= ${minPrice}::int`);
  if (maxPrice != null) conditions.push(Prisma.sql`p.price_amount <= ${maxPrice}::int`);
  if (filter.inStock != null) conditions.push(Prisma.sql`p.in_stock = ${filter.inStock}`);
  const attributes = filter.attributes ?? [];
  if (attributes.length > MAX_ATTRIBUTE_FILTERS) throw badUserInput('filter.attributes', `At most ${MAX_ATTRIBUTE_FILTERS} attribute filters.`);
  attributes.forEach(({ key, value }, i) => {
    if (!key) throw badUserInput(`filter.attributes[${i}].key`, 'An attribute filter needs a key.');
    conditions.push(Prisma.sql`p.attributes @> ${JSON.stringify({ [key]: value })}::jsonb`);
  });
  return conditions;
}

const LIVE = Prisma.sql`p.deleted_at IS NULL`;

/** Where a search finds its matches, and the condition that leaves out deleted products there. */
interface SearchTable {
  from: Prisma.Sql;
  live: Prisma.Sql[];
}
/**
 * The live products' search columns (id, category, price, in stock, created at, search_vector), kept by
 * triggers in the transaction of every product write, with a category's rows stored together: a search
 * ranks and counts every match, and reading them there touches far fewer pages than in `products`
 * (where a category's rows lie one to a page). Same search_vector, so the same matches, ranks and order.
 */
const SEARCH_TABLE: SearchTable = { from: Prisma.sql`catalog.product_search`, live: [] };
/** A filter on attributes needs the products themselves. */
const PRODUCTS_TABLE: SearchTable = { from: Prisma.sql`catalog.products`, live: [LIVE] };

const once = <T>(fn: () => Promise<T>) => {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
};

/**
 * The `products` list: filters, sorts, Relay keyset pagination. A cursor carries the sort key and
 * the id of the last row, so inserts made while a client walks the pages never shift them.
 */
export class ProductListing {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly dictionary: SearchDictionary = new SearchDictionary(),
  ) {}

  async list(args: ProductListArgs): Promise<ProductConnection> {
    const first = pageSize(args.first ?? DEFAULT_PAGE_SIZE);
    const filter = args.filter ?? {};
    const conditions = filterConditions(filter);
    // catalog.product_search holds the columns of every filter but the attributes (see searchPage).
    const searchTable = (filter.attributes ?? []).length === 0 ? SEARCH_TABLE : PRODUCTS_TABLE;
    // A search without words ("", "!?") is no search; one of stop words only ("the") matches nothing.
    const words = filter.search != null ? searchWords(filter.search) : null;
    // Without a search there is no relevance: the newest come first.
    const sort: ProductSort = args.sort === 'RELEVANCE' || !args.sort ? (words ? 'RELEVANCE' : 'NEWEST') : args.sort;
    const cursor = args.after ? readCursor(args.after, sort) : undefined;
    return words ? this.searchPage(searchTable, conditions, words, sort, first, cursor) : this.browse([LIVE, ...conditions], sort, first, cursor);
  }

  /** No search: the page walks an index where one fits (created_at, category + price); the count runs only if asked for. */
  private async browse(conditions: Prisma.Sql[], sort: ProductSort, first: number, cursor: Cursor | undefined): Promise<ProductConnection> {
    const order = SORTS[sort];
    const key = order.key(null);
    const where = Prisma.join(conditions, ' AND ');
    const rows = await this.prisma.$queryRaw<PageRow[]>`
      SELECT ${key} AS "sortKey", ${PRODUCT_COLUMNS}
      FROM catalog.products p
      WHERE ${where} AND ${this.after(key, Prisma.sql`p.id`, order, cursor)}
      ORDER BY ${key} ${Prisma.raw(order.direction)}, p.id ${Prisma.raw(order.direction)}
      LIMIT ${first + 1}`;
    const totalCount = once(async () => {
      const [row] = await this.prisma.$queryRaw<Array<{ total: number }>>`SELECT count(*)::int AS total FROM catalog.products p WHERE ${where}`;
      return row!.total;
    });
    return this.connection(rows, sort, first, totalCount);
  }

  /**
   * A search: every match needs its rank anyway, so the matches are collected once (id and sort key),
   * counted, and the page is cut from them; one statement.
   */
  private async searchPage(
    table: SearchTable,
    conditions: Prisma.Sql[],
    words: SearchWords,
    sort: ProductSort,
    first: number,
    cursor: Cursor | undefined,
  ): Promise<ProductConnection> {
    const order = SORTS[sort];
    const direction = Prisma.raw(order.direction);
    // The words' terms (stems, corrections) come from the dictionary, or are worked out here and remembered.
    const search = this.dictionary.query(words);
    const { query } = search;
    // The page is cut from the matches before the join, so only its rows are read again in full.
    // Prepared: PostgreSQL parses it once per connection.
    const rows = await this.prisma.$queryRaw<Array<PageRow & SearchTermsRow & { total: number }>>`${PREPARED}
      WITH ${search.words ? Prisma.sql`${search.words},` : Prisma.empty}
      matches AS MATERIALIZED (
        SELECT p.id, ${order.key(query)} AS sort_key
        FROM ${table.from} p
        WHERE ${Prisma.join([...table.live, ...conditions, Prisma.sql`p.search_vector @@ ${query}`], ' AND ')}
      )
      SELECT ${search.columns ? Prisma.sql`${search.columns},` : Prisma.empty} counted.total, page.sort_key AS "sortKey", ${PRODUCT_COLUMNS}
      FROM (SELECT count(*)::int AS total FROM matches) counted
      LEFT JOIN (
        SELECT m.id, m.sort_key FROM matches m
        WHERE ${this.after(Prisma.sql`m.sort_key`, Prisma.sql`m.id`, order, cursor)}
        ORDER BY m.sort_key ${direction}, m.id ${direction}
        LIMIT ${first + 1}
      ) page ON true
      LEFT JOIN catalog.products p ON p.id = page.id
      ORDER BY page.sort_key ${direction}, page.id ${direction}`;
    search.learn(rows[0]);
    const total = rows[0]?.total ?? 0;
    return this.connection(
      rows.filter((row) => row.id !== null),
      sort,
      first,
      async () => total,
    );
  }

  /** The keyset condition: rows strictly after the cursor in (key, id) order. */
  private after(key: Prisma.Sql, id: Prisma.Sql, order: SortOrder, cursor: Cursor | undefined): Prisma.Sql {
    if (!cursor) return Prisma.sql`TRUE`;
    const comparison = Prisma.raw(order.direction === 'ASC' ? '>' : '<');
    return Prisma.sql`(${key}, ${id}) ${comparison} (${cursor.key}, ${cursor.id}::uuid)`;
  }

  private connection(rows: PageRow[], sort: ProductSort, first: number, totalCount: () => Promise<number>): ProductConnection {
    const page = connection(
      rows,
      first,
      (row) => writeCursor(sort, row),
      (row) => {
        const { sortKey: _sortKey, total: _total, searchTerms: _terms, searchTermsStable: _stable, ...node } = row as PageRow & SearchTermsRow & { total?: number };
        return node as Product;
      },
    );
    return { ...page, totalCount };
  }
}
