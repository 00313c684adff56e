import DataLoader from 'dataloader';
import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { InventoryItem } from '../../../kernel/src/prisma';
import type { BaseContext } from '../../../kernel/src/server';
import type { StockService } from './stock';

export interface InventoryContext extends BaseContext {
  stock: StockService;
  itemByProductId: DataLoader<string, InventoryItem | null>;
}

export function createInventoryContext(base: BaseContext, stock: StockService): InventoryContext {
  return {
    ...base,
    stock,
    itemByProductId: new DataLoader(async (ids) => {
      const found = await stock.findManyByProductIds(ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
  };
}

export const resolvers: GraphQLResolverMap<InventoryContext> = {
  DateTime: DateTimeResolver,
  Query: {
    inventoryItem: (_root, args: { productId: string }, { itemByProductId }) => itemByProductId.load(args.productId),
  },
  Product: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    stock: (product: { id: string }, _args, { itemByProductId }) => itemByProductId.load(product.id),
  },
  InventoryItem: {
    available: (item: InventoryItem) => item.onHand - item.reserved,
  },
};
