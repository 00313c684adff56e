import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { streamKey, type EventEnvelope, type EventPayloads, type EventType, type OrderEvent, type StockChanged, EVENT_STREAMS } from '../../../kernel/src/events/envelope';
import { JwtService } from '../../../kernel/src/jwt';
import { TEST_JWT_SECRET, type Stack } from '../../../test/support/stack';
import { eventually } from '../../../test/support/eventually';
import type { Probe } from '../../../test/support/subscriptions';
import { gql } from '../../../generated/graphql/gateway';
import type { NotificationFeedItemFragment } from '../../../generated/graphql/gateway/graphql';

let nextOrderNumber = Math.floor(Math.random() * 900_000);

/** An order event's payload as the order service publishes it; override what the test is about. */
export function orderEvent(userId: string, overrides: Partial<OrderEvent> = {}): OrderEvent {
  return {
    orderId: randomUUID(),
    number: `SO-${String(++nextOrderNumber).padStart(6, '0')}`,
    userId,
    status: 'AWAITING_CONFIRMATION',
    totalAmount: 12_750,
    currency: 'EUR',
    lines: [
      { productId: randomUUID(), productName: 'Walnut desk lamp', quantity: 2, unitPriceAmount: 4900 },
      { productId: randomUUID(), productName: 'Stoneware coffee mug', quantity: 1, unitPriceAmount: 2950 },
    ],
    reason: null,
    confirmationDeadline: new Date(Date.now() + 15 * 60_000).toISOString(),
    at: new Date().toISOString(),
    ...overrides,
  };
}

export function stockChanged(productId: string, version: number, available: number, lowStockThreshold = 5): StockChanged {
  return { productId, onHand: available + 2, reserved: 2, available, lowStockThreshold, version, at: new Date().toISOString() };
}

export function envelope<K extends EventType>(type: K, payload: EventPayloads[K]): EventEnvelope<EventPayloads[K]> {
  return { id: randomUUID(), type, source: EVENT_STREAMS[type], occurredAt: new Date().toISOString(), payload };
}

/** Writes events to their durable streams the way the outbox relay does (XADD, field `event`). */
export class EventStreams {
  private readonly redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

  constructor(private readonly keyPrefix: string) {}

  async publish<K extends EventType>(type: K, payload: EventPayloads[K]): Promise<EventEnvelope<EventPayloads[K]>> {
    const event = envelope(type, payload);
    await this.publishEnvelope(event);
    return event;
  }

  /** The same envelope again is what a relay that crashed before marking its row published sends. */
  async publishEnvelope(event: EventEnvelope): Promise<void> {
    await this.redis.xadd(streamKey(this.keyPrefix, EVENT_STREAMS[event.type as EventType]), '*', 'event', JSON.stringify(event));
  }

  close(): void {
    this.redis.disconnect();
  }
}

export { eventually };

gql(`
  fragment NotificationFeedItem on Notification { id kind title body orderId productId readAt createdAt deliveredToTelegramAt }
`);
export type FeedItem = NotificationFeedItemFragment;

export const MY_NOTIFICATIONS = gql(`
  query NotificationFeed($unreadOnly: Boolean, $first: Int, $after: String) {
    myNotifications(unreadOnly: $unreadOnly, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ...NotificationFeedItem } }
    }
  }
`);

/** The user's whole feed through the gateway, newest first. */
export async function feed(stack: Stack, accessToken: string, unreadOnly = false): Promise<FeedItem[]> {
  const response = await stack.gql(MY_NOTIFICATIONS, { unreadOnly, first: 100 }, { token: accessToken });
  if (response.errors) throw new Error(`myNotifications failed: ${JSON.stringify(response.errors)}`);
  return response.data!.myNotifications.edges.map((edge) => edge.node);
}

export interface RespondToOrderCall {
  id: string;
  userId: string;
  confirm: boolean;
  /** The `sub` of the service token it came with. */
  service: string;
}

/**
 * Stands in for the order subgraph's `respondToOrder` (the Telegram buttons' way in): checks the
 * caller's service token like a subgraph does, records each call and answers what the test says.
 */
export class FakeOrderService {
  readonly calls: RespondToOrderCall[] = [];
  private readonly refusals: Array<{ message: string; code: string }> = [];
  private readonly server: http.Server;
  private jwt?: JwtService;

  private constructor() {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  static async start(): Promise<FakeOrderService> {
    const service = new FakeOrderService();
    service.jwt = await JwtService.create({
      ALGORITHM: 'HS256',
      JWT_SECRET: TEST_JWT_SECRET,
      JWT_ISSUER: 'shop-auth',
      ACCESS_TOKEN_EXPIRE_MINUTES: 30,
      REFRESH_TOKEN_EXPIRE_MINUTES: 43200,
    });
    await new Promise<void>((resolve) => service.server.listen(0, '127.0.0.1', resolve));
    return service;
  }

  /** The next call is refused with this GraphQL error (others are answered CONFIRMED or CANCELLED as asked). */
  refuseNext(message: string, code: string): void {
    this.refusals.push({ message, code });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/graphql`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let service: string;
    try {
      const claims = await this.jwt!.verify(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '', ['service']);
      service = claims.sub;
    } catch {
      reply(200, { errors: [{ message: 'Only a platform service can do this.', extensions: { code: 'UNAUTHENTICATED' } }] });
      return;
    }
    const { query, variables } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query: string; variables: { id: string; userId: string; confirm: boolean } };
    if (!/respondToOrder\(/.test(query)) {
      reply(400, { errors: [{ message: `unexpected operation: ${query}`, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
      return;
    }
    const call = { id: variables.id, userId: variables.userId, confirm: variables.confirm, service };
    this.calls.push(call);
    const refusal = this.refusals.shift();
    reply(
      200,
      refusal
        ? { data: null, errors: [{ message: refusal.message, extensions: { code: refusal.code } }] }
        : { data: { respondToOrder: { id: call.id, number: 'SO-000001', status: call.confirm ? 'CONFIRMED' : 'CANCELLED' } } },
    );
  }
}

/**
 * A notification of `user`'s made to probe their live feed (see `untilLive`): a made-up order of
 * theirs confirmed, through the order stream, once it is in their feed. Its results (told apart by
 * its orderId, so the subscription must select `orderId`) are set aside.
 */
export async function notificationProbe(stack: Stack, streams: EventStreams, user: { userId: string; accessToken: string }): Promise<Probe> {
  const order = orderEvent(user.userId, { status: 'CONFIRMED' });
  await streams.publish('OrderConfirmed', order);
  const items = await eventually(() => feed(stack, user.accessToken), (found) => found.some((n) => n.orderId === order.orderId));
  const notification = items.find((n) => n.orderId === order.orderId)!;
  return {
    channel: 'notificationReceived',
    event: { userId: user.userId, notificationId: notification.id },
    isProbe: (result) => result.data?.notificationReceived?.orderId === order.orderId,
  };
}
