import type DataLoader from 'dataloader';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Product } from '../../../kernel/src/prisma';
import type { Product as ProductType, Resolvers } from '../../../generated/graphql/catalog/resolvers';
import { batchLoader } from '../../../kernel/src/loaders';
import type { EveryFieldResolved, Unresolved } from '../../../kernel/src/resolver-coverage';
import type { BaseContext } from '../../../kernel/src/server';
import { requireAdmin, requireService } from '../../../kernel/src/identity';
import { badUserInput } from '../../../kernel/src/errors';
import type { ProductListing } from './listing';
import type { ProductService } from './products';

export interface CatalogServices {
  products: ProductService;
  listing: ProductListing;
}

export interface CatalogContext extends BaseContext, CatalogServices {
  /** Deleted products included: entity references must still resolve them. */
  productById: DataLoader<string, Product | null>;
}

export function createCatalogContext(base: BaseContext, services: CatalogServices): CatalogContext {
  return {
    ...base,
    ...services,
    productById: batchLoader((ids) => services.products.findManyByIds(ids), null),
  };
}

/** productsByIds: an order has at most 50 lines. */
const MAX_IDS = 100;

const live = (product: Product | null) => (product && !product.deletedAt ? product : null);

export const resolvers = {
  DateTime: DateTimeResolver,
  JSON: JSONResolver,
  Query: {
    product: async (_root, args, { productById }) => live(await productById.load(args.id)),
    productBySku: (_root, args, { products }) => products.findBySku(args.sku),
    products: (_root, args, { listing }) => listing.list(args),
    productsByIds: (_root, args, { identity, productById }) => {
      requireService(identity);
      if (args.ids.length > MAX_IDS) throw badUserInput('ids', `At most ${MAX_IDS} ids; got ${args.ids.length}.`);
      return Promise.all(args.ids.map(async (id) => live(await productById.load(id))));
    },
  },
  Mutation: {
    createProduct: (_root, args, { identity, products }) => {
      requireAdmin(identity);
      return products.create(args.input);
    },
    updateProduct: (_root, args, { identity, products }) => {
      requireAdmin(identity);
      return products.update(args.id, args.input);
    },
    deleteProduct: (_root, args, { identity, products }) => {
      requireAdmin(identity);
      return products.delete(args.id);
    },
  },
  ProductConnection: {
    totalCount: (connection) => connection.totalCount(),
  },
  Product: {
    __resolveReference: (ref, { productById }) => productById.load(ref.id),
    price: (product) => ({ amount: product.priceAmount, currency: product.currency }),
    images: (product) => product.images ?? [],
  },
} satisfies Resolvers;

// Fields the Prisma model serves by itself: a renamed one fails here.
export type FieldsResolved = EveryFieldResolved<Unresolved<ProductType, Product, typeof resolvers.Product>>;
