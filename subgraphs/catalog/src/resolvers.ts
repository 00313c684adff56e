import DataLoader from 'dataloader';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { Product } from '../../../kernel/src/prisma';
import type { BaseContext } from '../../../kernel/src/server';
import type { ProductService } from './products';

export interface CatalogContext extends BaseContext {
  products: ProductService;
  productById: DataLoader<string, Product | null>;
}

export function createCatalogContext(base: BaseContext, products: ProductService): CatalogContext {
  return {
    ...base,
    products,
    productById: new DataLoader(async (ids) => {
      const found = await products.findManyByIds(ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
  };
}

export const resolvers: GraphQLResolverMap<CatalogContext> = {
  DateTime: DateTimeResolver,
  JSON: JSONResolver,
  Query: {
    product: async (_root, args: { id: string }, { productById }) => {
      const product = await productById.load(args.id);
      return product && !product.deletedAt ? product : null;
    },
  },
  Product: {
    __resolveReference: (ref: { id: string }, { productById }: CatalogContext) => productById.load(ref.id),
    price: (product: Product) => ({ amount: product.priceAmount, currency: product.currency }),
  },
};
