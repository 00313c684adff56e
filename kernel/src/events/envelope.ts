import { isUuid } from '../ids';

/** What every event looks like on the wire: in the outbox, in a Redis Stream, to a consumer. */
export interface EventEnvelope<T = unknown> {
  /** A UUID; consumers deduplicate by it (delivery is at least once). */
  id: string;
  type: string;
  /** The service that produced it. */
  source: string;
  /** ISO 8601. */
  occurredAt: string;
  payload: T;
  /** The request that caused it (request-context.ts): a consumer logs under its id and continues its trace. */
  requestId?: string;
  /** W3C traceparent, when the producer traces. */
  traceparent?: string;
}

/** The durable Redis Stream of `stream` (read by services with consumer groups). */
export const streamKey = (keyPrefix: string, stream: string): string => `${keyPrefix}events:${stream}`;

/** Where a consumer group puts the entries it gave up on. */
export const deadLetterKey = (keyPrefix: string, stream: string): string => `${streamKey(keyPrefix, stream)}:dead`;

/** A live pub/sub channel (GraphQL subscriptions at the gateway); nothing is kept for absent listeners. */
export const liveChannel = (keyPrefix: string, name: string): string => `${keyPrefix}live:${name}`;

// ---------- the events that exist ----------

/** Inventory's stock of one product after a change. */
export interface StockChanged {
  productId: string;
  onHand: number;
  reserved: number;
  available: number;
  lowStockThreshold: number;
  /** Increasing per product, also across a delete and recreate of its item: a consumer drops an event older than what it has (delivery order is not guaranteed). */
  version: number;
  /** ISO 8601: when the stock changed. */
  at: string;
}

/**
 * The catalog's live message (pub/sub only, no stream) after a product was created, updated, deleted,
 * or its projected `inStock` changed: gateways evict what they cached of it.
 */
export interface ProductChanged {
  productId: string;
  /** ISO 8601: when the change was committed. */
  at: string;
}

/** An order at one of its milestones (the same shape for each order event). */
export interface OrderEvent {
  orderId: string;
  /** SO-000042 */
  number: string;
  userId: string;
  status: 'PENDING' | 'AWAITING_CONFIRMATION' | 'CONFIRMED' | 'FULFILLED' | 'CANCELLED' | 'FAILED';
  totalAmount: number;
  currency: string;
  lines: Array<{ productId: string; productName: string; quantity: number; unitPriceAmount: number }>;
  /** Why it was cancelled or failed. */
  reason: string | null;
  /** Until when the user can confirm (OrderPlaced). */
  confirmationDeadline: string | null;
  /** ISO 8601: when it happened. */
  at: string;
}

/** Each event type, its stream and its payload. */
export interface EventPayloads {
  StockChanged: StockChanged;
  /** Stock is reserved and the user is asked to confirm. */
  OrderPlaced: OrderEvent;
  OrderConfirmed: OrderEvent;
  /** Cancelled by the user, by the confirmation timing out, or failed (out of stock, a failing step): see status and reason. */
  OrderCancelled: OrderEvent;
  OrderFulfilled: OrderEvent;
}
export type EventType = keyof EventPayloads;

export const EVENT_STREAMS: { readonly [K in EventType]: string } = {
  StockChanged: 'inventory',
  OrderPlaced: 'order',
  OrderConfirmed: 'order',
  OrderCancelled: 'order',
  OrderFulfilled: 'order',
};

/** Narrows an envelope by its type name (the producer is trusted to send the matching payload). */
export function isEvent<K extends EventType>(event: EventEnvelope, type: K): event is EventEnvelope<EventPayloads[K]> {
  return event.type === type;
}

/** Parses a stream entry's `event` field; throws on anything that is not an envelope. */
export function parseEnvelope(raw: string): EventEnvelope {
  const value = JSON.parse(raw) as Partial<EventEnvelope> | null;
  if (
    !value ||
    typeof value !== 'object' ||
    typeof value.id !== 'string' ||
    !isUuid(value.id) ||
    typeof value.type !== 'string' ||
    typeof value.source !== 'string' ||
    typeof value.occurredAt !== 'string' ||
    !('payload' in value)
  ) {
    throw new Error('not an event envelope');
  }
  const { requestId, traceparent } = value;
  return {
    id: value.id,
    type: value.type,
    source: value.source,
    occurredAt: value.occurredAt,
    payload: value.payload,
    ...(typeof requestId === 'string' ? { requestId } : {}),
    ...(typeof traceparent === 'string' ? { traceparent } : {}),
  };
}
