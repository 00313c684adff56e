import DataLoader from 'dataloader';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { Product } from '../../../kernel/src/prisma';
import type { BaseContext } from '../../../kernel/src/server';
import { requireAdmin } from '../../../kernel/src/identity';
import type { ProductConnection, ProductListArgs, ProductListing } from './listing';
import type { CreateProductInput, UpdateProductInput } from './product-input';
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
    productById: new DataLoader(async (ids) => {
      const found = await services.products.findManyByIds(ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
  };
}

const live = (product: Product | null) => (product && !product.deletedAt ? product : null);

export const resolvers: GraphQLResolverMap<CatalogContext> = {
  DateTime: DateTimeResolver,
  JSON: JSONResolver,
  Query: {
    product: async (_root, args: { id: string }, { productById }) => live(await productById.load(args.id)),
    productBySku: (_root, args: { sku: string }, { products }) => products.findBySku(args.sku),
    products: (_root, args: ProductListArgs, { listing }) => listing.list(args),
  },
  Mutation: {
    createProduct: (_root, args: { input: CreateProductInput }, { identity, products }) => {
      requireAdmin(identity);
      return products.create(args.input);
    },
    updateProduct: (_root, args: { id: string; input: UpdateProductInput }, { identity, products }) => {
      requireAdmin(identity);
      return products.update(args.id, args.input);
    },
    deleteProduct: (_root, args: { id: string }, { identity, products }) => {
      requireAdmin(identity);
      return products.delete(args.id);
    },
  },
  ProductConnection: {
    totalCount: (connection: ProductConnection) => connection.totalCount(),
  },
  Product: {
    __resolveReference: (ref: { id: string }, { productById }: CatalogContext) => productById.load(ref.id),
    price: (product: Product) => ({ amount: product.priceAmount, currency: product.currency }),
    images: (product: Product) => product.images ?? [],
  },
};
