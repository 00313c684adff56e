import DataLoader from 'dataloader';
import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { InventoryItem } from '../../../kernel/src/prisma';
import type { BaseContext } from '../../../kernel/src/server';
import { actorOf, requireAdmin, requireService } from '../../../kernel/src/identity';
import { badUserInput } from '../../../kernel/src/errors';
import type { StockChanged } from '../../../kernel/src/events/envelope';
import type { ReservationLineInput, ReservationService } from './reservations';
import type { StockService } from './stock';

export interface InventoryContext extends BaseContext {
  stock: StockService;
  reservations: ReservationService;
  itemByProductId: DataLoader<string, InventoryItem | null>;
}

export function createInventoryContext(base: BaseContext, services: Pick<InventoryContext, 'stock' | 'reservations'>): InventoryContext {
  return {
    ...base,
    ...services,
    itemByProductId: new DataLoader(async (ids) => {
      const found = await services.stock.findManyByProductIds(ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
  };
}

/** A StockChanged payload, as the gateway hands it back for a subscriber. */
function parseStockEvent(raw: string): StockChanged {
  try {
    const event = JSON.parse(raw) as StockChanged;
    if (typeof event.productId === 'string' && Number.isInteger(event.onHand) && Number.isInteger(event.reserved)) return event;
  } catch {
    // fall through
  }
  throw badUserInput('event', 'Not a StockChanged event.');
}

export const resolvers: GraphQLResolverMap<InventoryContext> = {
  DateTime: DateTimeResolver,
  Query: {
    inventoryItem: (_root, args: { productId: string }, { itemByProductId }) => itemByProductId.load(args.productId),
    stockMovements: (_root, args: { productId: string; first: number; after?: string | null }, { identity, stock }) => {
      requireAdmin(identity);
      return stock.movements(args.productId, args.first, args.after);
    },
    inventoryItems: (_root, args: { first: number; after?: string | null }, { identity, stock }) => {
      requireService(identity);
      return stock.list(args.first, args.after);
    },
    reservation: (_root, args: { orderId: string }, { identity, reservations }) => {
      requireService(identity);
      return reservations.find(args.orderId);
    },
    _stockUpdateFromEvent: (_root, args: { event: string }) => {
      const event = parseStockEvent(args.event);
      return { ...event, available: event.onHand - event.reserved };
    },
  },
  Mutation: {
    createInventoryItem: (_root, args: { input: { productId: string; onHand: number; lowStockThreshold: number } }, { identity, stock }) =>
      stock.create(actorOf(requireAdmin(identity)), args.input),
    updateInventoryItem: (_root, args: { productId: string; input: { lowStockThreshold?: number | null } }, { identity, stock }) =>
      stock.update(actorOf(requireAdmin(identity)), args.productId, args.input),
    deleteInventoryItem: (_root, args: { productId: string }, { identity, stock }) => stock.delete(actorOf(requireAdmin(identity)), args.productId),
    adjustStock: (_root, args: { productId: string; delta: number; reason: string }, { identity, stock }) =>
      stock.adjust(actorOf(requireAdmin(identity)), args.productId, args.delta, args.reason),
    reserveStock: (_root, args: { orderId: string; lines: ReservationLineInput[] }, { identity, reservations }) =>
      reservations.reserve(actorOf(requireService(identity)), args.orderId, args.lines),
    releaseStock: (_root, args: { orderId: string }, { identity, reservations }) =>
      reservations.release(actorOf(requireService(identity)), args.orderId),
    commitStock: (_root, args: { orderId: string }, { identity, reservations }) =>
      reservations.commit(actorOf(requireService(identity)), args.orderId),
  },
  Product: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    stock: (product: { id: string }, _args, { itemByProductId }) => itemByProductId.load(product.id),
  },
  InventoryItem: {
    available: (item: InventoryItem) => item.onHand - item.reserved,
    version: (item: InventoryItem) => item.version.toString(),
  },
  StockUpdate: {
    product: (update: { productId: string }) => ({ id: update.productId }),
  },
};
