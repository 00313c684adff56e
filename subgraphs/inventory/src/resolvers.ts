import type DataLoader from 'dataloader';
import { DateTimeResolver } from 'graphql-scalars';
import type { InventoryItem, StockMovement } from '../../../kernel/src/prisma';
import type { InventoryItem as InventoryItemType, Resolvers, StockMovement as StockMovementType, StockUpdate as StockUpdateType } from '../../../generated/graphql/inventory/resolvers';
import { batchLoader } from '../../../kernel/src/loaders';
import type { EveryFieldResolved, Unresolved } from '../../../kernel/src/resolver-coverage';
import type { BaseContext } from '../../../kernel/src/server';
import { actorOf, requireAdmin, requireService } from '../../../kernel/src/identity';
import { badUserInput } from '../../../kernel/src/errors';
import type { StockChanged } from '../../../kernel/src/events/envelope';
import type { ReservationService } from './reservations';
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
    itemByProductId: batchLoader((ids) => services.stock.findManyByProductIds(ids), null),
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

/** A product as this subgraph knows it: an id whose stock it holds. */
export type ProductRef = { id: string };

export const resolvers = {
  DateTime: DateTimeResolver,
  Query: {
    inventoryItem: (_root, args, { itemByProductId }) => itemByProductId.load(args.productId),
    stockMovements: (_root, args, { identity, stock }) => {
      requireAdmin(identity);
      return stock.movements(args.productId, args.first, args.after);
    },
    inventoryItems: (_root, args, { identity, stock }) => {
      requireService(identity);
      return stock.list(args.first, args.after);
    },
    reservation: (_root, args, { identity, reservations }) => {
      requireService(identity);
      return reservations.find(args.orderId);
    },
    _stockUpdateFromEvent: (_root, args) => {
      const event = parseStockEvent(args.event);
      return { ...event, available: event.onHand - event.reserved };
    },
  },
  Mutation: {
    createInventoryItem: (_root, args, { identity, stock }) =>
      stock.create(actorOf(requireAdmin(identity)), args.input),
    updateInventoryItem: (_root, args, { identity, stock }) =>
      stock.update(actorOf(requireAdmin(identity)), args.productId, args.input),
    deleteInventoryItem: (_root, args, { identity, stock }) => stock.delete(actorOf(requireAdmin(identity)), args.productId),
    adjustStock: (_root, args, { identity, stock }) =>
      stock.adjust(actorOf(requireAdmin(identity)), args.productId, args.delta, args.reason),
    reserveStock: (_root, args, { identity, reservations }) =>
      reservations.reserve(actorOf(requireService(identity)), args.orderId, args.lines),
    releaseStock: (_root, args, { identity, reservations }) =>
      reservations.release(actorOf(requireService(identity)), args.orderId),
    commitStock: (_root, args, { identity, reservations }) =>
      reservations.commit(actorOf(requireService(identity)), args.orderId),
  },
  Product: {
    __resolveReference: (ref) => ({ id: ref.id }),
    stock: (product, _args, { itemByProductId }) => itemByProductId.load(product.id),
  },
  InventoryItem: {
    available: (item) => item.onHand - item.reserved,
    version: (item) => item.version.toString(),
  },
  StockUpdate: {
    product: (update) => ({ id: update.productId }),
  },
} satisfies Resolvers;

// Fields the models serve by themselves: a renamed one fails here.
export type FieldsResolved = [
  EveryFieldResolved<Unresolved<InventoryItemType, InventoryItem, typeof resolvers.InventoryItem>>,
  EveryFieldResolved<Unresolved<StockMovementType, StockMovement, object>>,
  EveryFieldResolved<Unresolved<StockUpdateType, StockChanged, typeof resolvers.StockUpdate>>,
];
