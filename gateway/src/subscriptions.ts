import type http from 'node:http';
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  getOperationAST,
  print,
  specifiedRules,
  validate,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { getArgumentValues } from 'graphql/execution/values';
import { LRUCache } from 'lru-cache';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { CloseCode, type Context as WsContext, type SubscribePayload } from 'graphql-ws';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { ApolloServer } from '@apollo/server';
import { duplicateRedis, type Redis } from '../../kernel/src/redis';
import type { Logger } from '../../kernel/src/logger';
import type { Metrics } from '../../kernel/src/metrics';
import type { Gauge } from 'prom-client';
import { AppError, ErrorCode } from '../../kernel/src/errors';
import { addressBucket } from '../../kernel/src/client-address';
import type { GatewayContext, GatewayIdentity } from './identity';
import { notInList, type TrustedDocuments } from './trusted-documents';
import type { SubscriptionRoute } from './subscription-routes';
import { checkCost, limitRules, screenDocument, type OperationLimits } from './operation-limits';
import { SubscriptionGroups, canonicalJson, deliveryCounters, type Delivery, type DeliveryCounters } from './subscription-groups';
import { refusalCounter } from './error-format';

const EVENT_VARIABLE = '__event';

/** Close codes a client acts on (graphql-ws's own, plus the standard "try again later"). */
export const WS_CLOSE = {
  /** The access token that opened the socket has expired: reconnect with a fresh one. */
  TOKEN_EXPIRED: CloseCode.Unauthorized,
  /** A bad token in connection_init. */
  BAD_TOKEN: CloseCode.Forbidden,
  /** The subscriber did not read its events fast enough; reconnect and catch up. */
  TOO_SLOW: 1013,
  /** A message over WS_MAX_MESSAGE_BYTES (ws's own close code). */
  MESSAGE_TOO_BIG: 1009,
} as const;

/** At stop, how long a client gets to answer the close frame before its socket is cut (ws itself would wait 30 s). */
const CLOSE_HANDSHAKE_MS = 2_000;

export interface WebsocketLimits {
  maxMessageBytes: number;
  maxSubscriptionsPerSocket: number;
  maxQueuedEvents: number;
  maxSocketsPerAddress: number;
}

type SocketExtra = { socket: WebSocket; request: http.IncomingMessage };

/**
 * Subscriptions over graphql-ws at the gateway's /graphql. @apollo/gateway plans no subscriptions,
 * so for each event from Redis the subscription is rewritten into a query on the owning subgraph's
 * `_<x>FromEvent(event:)` root field with the same selection set, and run through the gateway's own
 * planner: federated fields (a StockUpdate's `product { name }`) resolve like in any query.
 * Queries and mutations sent over the socket run through Apollo like HTTP ones, with the same limits.
 */
export class SubscriptionServer {
  private readonly pubsub: RedisPubSub;
  private readonly contexts = new WeakMap<object, GatewayContext>();
  private readonly sources = new WeakMap<DocumentNode, string>();
  /** How to cut off each connection's subscriber that falls behind (a websocket or an event stream). */
  private readonly closeSlow = new WeakMap<GatewayContext, () => void>();
  private readonly connectionsPerAddress = new Map<string, number>();
  /** How to end each open connection when the gateway stops (event streams: graphql-ws closes the websockets itself). */
  private readonly goingAway = new Set<() => void>();
  private stopping = false;
  private readonly groups: SubscriptionGroups;
  /** Valid subscription documents by their text: the many subscribers of one app's operation share one AST and one validation. */
  private readonly documents = new LRUCache<string, DocumentNode>({ max: 500 });
  private readonly validated = new WeakMap<DocumentNode, GraphQLSchema>();
  /** Whose view public feeds are executed as: nobody's in particular. */
  private publicContext?: Promise<GatewayContext>;
  private dispose?: () => Promise<void>;
  private wsServer?: WebSocketServer;
  private readonly counters: DeliveryCounters;
  private readonly connections: Gauge<'transport'>;
  private readonly active: Gauge;

  constructor(
    private readonly options: {
      httpServer: http.Server;
      apollo: ApolloServer<GatewayContext>;
      schema: () => GraphQLSchema | undefined;
      identity: GatewayIdentity;
      routes: Record<string, SubscriptionRoute>;
      redis: Redis;
      logger: Logger;
      metrics: Metrics;
      limits: OperationLimits;
      websocket: WebsocketLimits;
      formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
      /** When set, only these documents run over the socket too (sent as full bodies). */
      trustedDocuments?: TrustedDocuments;
    },
  ) {
    this.pubsub = new RedisPubSub({ publisher: duplicateRedis(options.redis), subscriber: duplicateRedis(options.redis) });
    const { metrics } = options;
    this.counters = deliveryCounters(metrics);
    this.groups = new SubscriptionGroups(this.pubsub, options.websocket.maxQueuedEvents, options.logger, this.counters);
    this.connections = metrics.gauge('shop_gateway_subscription_connections', 'Open subscription connections, by transport (websocket, sse)', ['transport']);
    this.active = metrics.gauge('shop_gateway_subscriptions_active', 'Subscriptions running now, over either transport');
    metrics.collected('shop_gateway_subscription_groups', 'Groups of subscribers sharing one execution per event', [], (set) => set({}, this.groups.size));
  }

  start(): void {
    const { httpServer, logger, identity, websocket } = this.options;
    this.wsServer = new WebSocketServer({
      server: httpServer,
      path: '/graphql',
      // Bounded like an HTTP body: ws closes the socket with 1009 past it, before buffering more.
      maxPayload: websocket.maxMessageBytes,
      verifyClient: ({ req }, done) => {
        if (!this.hasRoomFor(req)) {
          refusalCounter(this.options.metrics).inc({ limit: ErrorCode.RATE_LIMITED });
          done(false, 429, 'Too many open websockets from your network');
          return;
        }
        done(true);
      },
    });
    this.wsServer.on('connection', (socket: WebSocket, req: http.IncomingMessage) => this.countConnection(req, (listener) => socket.once('close', listener), 'websocket'));
    const cleanup = useServer<Record<string, unknown> | undefined, SocketExtra>(
      {
        // A bad token closes the socket with 4403; no token is an anonymous subscriber.
        onConnect: async (ctx) => {
          const header = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
          try {
            const context = await identity.contextForHeader(typeof header === 'string' ? header : undefined, identity.addressOf(ctx.extra.request));
            this.contexts.set(ctx, context);
            const socket = ctx.extra.socket;
            this.connectionOpened(
              context,
              () => socket.close(WS_CLOSE.TOO_SLOW, 'Too many undelivered events: reconnect'),
              () => socket.close(WS_CLOSE.TOKEN_EXPIRED, 'Access token expired: reconnect with a fresh one'),
              (listener) => socket.once('close', listener),
            );
            return true;
          } catch {
            return false;
          }
        },
        onSubscribe: (ctx, _id, payload) => this.prepare(ctx, payload),
        subscribe: (args) => this.subscribe(args),
        execute: (args) => this.execute(args),
        onError: (_ctx, _id, _payload, errors) => {
          logger.debug({ errors: errors.map((e) => e.message) }, 'subscription refused');
          return errors.map((error) => this.options.formatError(error.toJSON(), error));
        },
      },
      this.wsServer,
    );
    // After graphql-ws's own listener: its handler prints a stack for every socket error, and a client
    // that sends oversized messages (ws closes those with 1009 itself) could fill the logs with them.
    this.wsServer.on('connection', (socket: WebSocket) => {
      socket.removeAllListeners('error');
      socket.on('error', (error: Error) => {
        logger.debug({ err: error.message }, 'websocket error; closing the socket');
        if (socket.readyState === socket.OPEN) socket.close(1011, 'Internal error');
      });
    });
    this.dispose = async () => {
      await cleanup.dispose();
    };
  }

  /** Ends every connection (websockets with 1001, event streams by their end), so clients reconnect elsewhere. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.goingAway.forEach((goAway) => goAway());
    const cutOff = setTimeout(() => this.wsServer?.clients.forEach((socket) => socket.terminate()), CLOSE_HANDSHAKE_MS);
    try {
      await this.dispose?.();
    } finally {
      clearTimeout(cutOff);
    }
    await new Promise<void>((resolve) => (this.wsServer ? this.wsServer.close(() => resolve()) : resolve()));
    // Not pubsub.close(): its QUITs are promises nobody waits for, which reject ("Connection is closed.")
    // when the connection drops before Redis's OK arrives. Nothing is left to publish or receive.
    this.pubsub.getPublisher().disconnect();
    this.pubsub.getSubscriber().disconnect();
  }

  /** Ends the connection when the gateway stops; once it has begun stopping, at once. */
  endOnStop(goAway: () => void, whenClosed: (listener: () => void) => void): void {
    if (this.stopping) return goAway();
    this.goingAway.add(goAway);
    whenClosed(() => this.goingAway.delete(goAway));
  }

  /** Whether `req`'s address (IPv4, or IPv6 /64) may open one more subscription connection: websockets and event streams count alike. */
  hasRoomFor(req: http.IncomingMessage): boolean {
    return (this.connectionsPerAddress.get(addressBucket(this.options.identity.addressOf(req))) ?? 0) < this.options.websocket.maxSocketsPerAddress;
  }

  /** Counts an open connection from `req`'s address until `whenClosed` calls back. */
  countConnection(req: http.IncomingMessage, whenClosed: (listener: () => void) => void, transport: 'websocket' | 'sse'): void {
    const bucket = addressBucket(this.options.identity.addressOf(req));
    this.connectionsPerAddress.set(bucket, (this.connectionsPerAddress.get(bucket) ?? 0) + 1);
    this.connections.inc({ transport });
    whenClosed(() => {
      this.connections.dec({ transport });
      const left = (this.connectionsPerAddress.get(bucket) ?? 1) - 1;
      if (left > 0) this.connectionsPerAddress.set(bucket, left);
      else this.connectionsPerAddress.delete(bucket);
    });
  }

  /**
   * Registers a connection's subscriber context: `closeSlow` cuts it off when it falls behind, and
   * `closeExpired` ends it when its access token expires.
   */
  connectionOpened(context: GatewayContext, closeSlow: () => void, closeExpired: () => void, whenClosed: (listener: () => void) => void): void {
    this.closeSlow.set(context, closeSlow);
    this.closeWhenTokenExpires(context, closeExpired, whenClosed);
  }

  /** A personal feed must not outlive the token that opened it: the connection is closed when it expires. */
  private closeWhenTokenExpires(context: GatewayContext, close: () => void, whenClosed: (listener: () => void) => void): void {
    const { identity } = context;
    if (identity.kind !== 'user' || !identity.expiresAt) return;
    // setTimeout holds at most ~24.8 days; a longer-lived token is checked again then.
    const delay = Math.min(identity.expiresAt * 1000 - Date.now(), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      if (identity.expiresAt! * 1000 > Date.now()) return this.closeWhenTokenExpires(context, close, whenClosed);
      close();
    }, Math.max(0, delay));
    whenClosed(() => clearTimeout(timer));
  }

  /**
   * Parses (bounded in tokens) and, for subscriptions, validates with the gateway's limits and cost;
   * queries and mutations are checked by Apollo itself when they run.
   */
  private prepare(ctx: WsContext<Record<string, unknown> | undefined, SocketExtra>, payload: SubscribePayload): ExecutionArgs | readonly GraphQLError[] {
    const { websocket } = this.options;
    if (Object.keys(ctx.subscriptions).length > websocket.maxSubscriptionsPerSocket) {
      return [new AppError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `A socket carries at most ${websocket.maxSubscriptionsPerSocket} operations at once; complete one first.`, { limit: websocket.maxSubscriptionsPerSocket })];
    }
    return this.prepareOperation(this.contexts.get(ctx)!, payload);
  }

  /** The operation's execution arguments, or why it is refused; the same checks for every transport. */
  prepareOperation(context: GatewayContext, payload: SubscribePayload): ExecutionArgs | readonly GraphQLError[] {
    const { limits } = this.options;
    if (this.options.trustedDocuments && !this.options.trustedDocuments.bodies.has(payload.query)) return [notInList()];
    const schema = this.options.schema();
    if (!schema) return [new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The gateway is starting; try again in a moment.')];
    if (this.stopping) return [new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'This gateway is stopping; reconnect to reach another.')];
    const cached = this.documents.get(payload.query);
    let document: DocumentNode;
    try {
      document = cached ?? screenDocument(payload.query, limits);
    } catch (error) {
      if (error instanceof GraphQLError) return [error];
      throw error;
    }
    const args: ExecutionArgs = { schema, document, variableValues: payload.variables ?? {}, operationName: payload.operationName ?? undefined, contextValue: context };
    const operation = getOperationAST(document, payload.operationName);
    if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) {
      this.sources.set(document, payload.query);
      return args;
    }
    if (this.validated.get(document) !== schema) {
      const errors = validate(schema, document, [...specifiedRules, ...limitRules(limits)]);
      if (errors.length > 0) return errors.map((error) => (error instanceof AppError ? error : withCode(error, 'GRAPHQL_VALIDATION_FAILED')));
      this.validated.set(document, schema);
      this.documents.set(payload.query, document);
    }
    try {
      checkCost(schema, document, payload.variables ?? undefined, payload.operationName, limits);
    } catch (error) {
      if (error instanceof GraphQLError) return [error];
      throw error;
    }
    return args;
  }

  /** A query or mutation sent where subscriptions are: it runs through Apollo like an HTTP one. */
  execute(args: ExecutionArgs): Promise<ExecutionResult> {
    return this.executeThroughGateway(args, this.sources.get(args.document) ?? print(args.document), false);
  }

  /** A subscription prepared by `prepareOperation`: its results, from the group of subscribers it joins. */
  async subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const operation = getOperationAST(args.document, args.operationName);
    const root = operation?.selectionSet.selections[0];
    if (!operation || root?.kind !== Kind.FIELD || operation.selectionSet.selections.length !== 1) {
      return { errors: [new GraphQLError('A subscription selects exactly one root field.', { extensions: { code: 'BAD_USER_INPUT' } })] };
    }
    const route = this.options.routes[root.name.value];
    const fieldDef = args.schema.getSubscriptionType()?.getFields()[root.name.value];
    if (!route || !fieldDef) {
      return { errors: [new GraphQLError(`Subscription ${root.name.value} is not served.`, { extensions: { code: 'BAD_USER_INPUT' } })] };
    }
    const context = args.contextValue as GatewayContext;
    const rootArgs = getArgumentValues(fieldDef, root, args.variableValues ?? {});
    const refusal = route.authorize?.(rootArgs, context.identity);
    if (refusal) return { errors: [refusal] };

    const query = print(rewriteAsEventQuery(args.document, operation, root, route.eventField));
    const alias = root.alias?.value ?? root.name.value;
    // Everything the group's result depends on: the operation, its arguments and whose view it is.
    const audience = route.audience === 'public' ? 'public' : context.identity.kind === 'user' ? `user:${context.identity.userId}:${context.identity.role}` : context.identity.kind;
    const groupKey = canonicalJson([root.name.value, audience, query, rootArgs, args.variableValues ?? {}]);
    const groupContext = route.audience === 'public' ? await (this.publicContext ??= this.options.identity.contextForHeader(undefined, undefined)) : context;
    const results = new BoundedEventQueue<Delivery>(
      this.options.websocket.maxQueuedEvents,
      () => {
        this.options.logger.warn({ channel: route.channel }, 'a subscriber fell behind; closing its connection');
        this.closeSlow.get(context)?.();
      },
      // A newer stock level of the same product replaces one not sent yet (and goes last: never out of order).
      (queued, next) => next.key !== undefined && queued.key === next.key,
      (count, reason) => this.counters.dropped.inc({ reason }, count),
    );
    const leave = await this.groups.join(
      groupKey,
      () => ({
        route,
        rootArgs,
        context: groupContext,
        execute: async (event, executionContext) => {
          const variables = { ...(args.variableValues ?? {}), [EVENT_VARIABLE]: JSON.stringify(event) };
          const result = await this.executeThroughGateway({ ...args, contextValue: executionContext, variableValues: variables }, query, true);
          // The owning subgraph found nothing this group may see: send nothing rather than a null.
          if (!result.errors && (result.data as Record<string, unknown> | null | undefined)?.[alias] == null) return undefined;
          return result;
        },
      }),
      { deliver: (delivery) => results.push(delivery), fallBehind: () => results.overflow() },
    );
    this.active.inc();
    results.onEnd(() => {
      leave();
      this.active.dec();
    });
    return mapAsyncIterator(results, async (delivery) => delivery.result);
  }

  /** `internal`: the gateway's own rewritten event query, which may select internal fields; client operations may not. */
  private async executeThroughGateway(args: ExecutionArgs, query: string, internal: boolean): Promise<ExecutionResult> {
    const response = await this.options.apollo.executeOperation(
      { query, variables: (args.variableValues ?? {}) as Record<string, unknown>, operationName: args.operationName ?? undefined },
      { contextValue: { ...(args.contextValue as GatewayContext), internal } },
    );
    if (response.body.kind !== 'single') return { errors: [new GraphQLError('Incremental delivery is not supported here.')] };
    const { data, errors } = response.body.singleResult;
    return { data: data as ExecutionResult['data'], ...(errors ? { errors: errors.map(toGraphQLError) } : {}) };
  }
}

const withCode = (error: GraphQLError, code: string) =>
  new GraphQLError(error.message, { nodes: error.nodes, extensions: { ...error.extensions, code } });

/** graphql-ws wants GraphQLError instances; Apollo gives formatted (plain) errors. */
function toGraphQLError(error: GraphQLFormattedError): GraphQLError {
  return new GraphQLError(error.message, { path: error.path, extensions: error.extensions });
}

/**
 * Events waiting for one subscriber. Bounded: a subscriber that lets more than `max` pile up
 * is cut off (`onOverflow`) instead of growing the gateway's memory. With `supersedes`, an item
 * replaces a waiting one it supersedes and goes to the end, so the rest keep their order.
 */
export class BoundedEventQueue<T> implements AsyncIterator<T> {
  private readonly items: T[] = [];
  private waiting?: (result: IteratorResult<T>) => void;
  private ended = false;
  private readonly endListeners: Array<() => void> = [];

  constructor(
    private readonly max: number,
    private readonly onOverflow: () => void,
    private readonly supersedes?: (queued: T, item: T) => boolean,
    /** Told of items that will never be read: superseded ones, and those waiting when it runs over. */
    private readonly onDrop?: (count: number, reason: 'subscriber_behind' | 'superseded') => void,
  ) {}

  push(item: T): void {
    if (this.ended) return;
    if (this.waiting) {
      const wake = this.waiting;
      this.waiting = undefined;
      wake({ done: false, value: item });
      return;
    }
    if (this.supersedes) {
      const superseded = this.items.findIndex((queued) => this.supersedes!(queued, item));
      if (superseded >= 0) {
        this.items.splice(superseded, 1);
        this.onDrop?.(1, 'superseded');
      }
    }
    if (this.items.length >= this.max) {
      this.onDrop?.(1, 'subscriber_behind');
      return this.overflow();
    }
    this.items.push(item);
  }

  /** Ends the queue and tells its owner, as when it runs over. */
  overflow(): void {
    if (this.ended) return;
    if (this.items.length > 0) this.onDrop?.(this.items.length, 'subscriber_behind');
    this.end();
    this.onOverflow();
  }

  onEnd(listener: () => void): void {
    this.endListeners.push(listener);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ done: false, value: this.items.shift()! });
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async return(): Promise<IteratorResult<T>> {
    this.end();
    return { done: true, value: undefined };
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.items.length = 0;
    this.waiting?.({ done: true, value: undefined });
    this.waiting = undefined;
    this.endListeners.splice(0).forEach((listener) => listener());
  }
}

/**
 * `subscription { alias: rootField(args) { ...selection } }` becomes
 * `query ($__event: String!, <variables the selection uses>) { alias: eventField(event: $__event) { ...selection } }`.
 */
export function rewriteAsEventQuery(document: DocumentNode, operation: OperationDefinitionNode, root: FieldNode, eventField: string): DocumentNode {
  const field: FieldNode = {
    ...root,
    alias: root.alias ?? { kind: Kind.NAME, value: root.name.value },
    name: { kind: Kind.NAME, value: eventField },
    arguments: [{ kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'event' }, value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: EVENT_VARIABLE } } }],
  };
  const fragments = document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION);
  const used = new Set<string>();
  for (const node of [field, ...fragments]) {
    visit(node, {
      Variable: (variable) => {
        used.add(variable.name.value);
      },
    });
  }
  const query: OperationDefinitionNode = {
    ...operation,
    operation: OperationTypeNode.QUERY,
    directives: [],
    variableDefinitions: [
      ...(operation.variableDefinitions ?? []).filter((definition) => used.has(definition.variable.name.value)),
      {
        kind: Kind.VARIABLE_DEFINITION,
        variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: EVENT_VARIABLE } },
        type: { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'String' } } },
      },
    ],
    selectionSet: { kind: Kind.SELECTION_SET, selections: [field] },
  };
  return { kind: Kind.DOCUMENT, definitions: [query, ...fragments] };
}

/**
 * Maps (and, with `undefined`, drops) each item of `source`. Unlike an async generator, `return()`
 * reaches the source at once, so an unsubscribe frees its Redis subscription without waiting for an event.
 */
export function mapAsyncIterator<T, R>(source: AsyncIterator<T>, map: (item: T) => Promise<R | undefined>): AsyncIterableIterator<R> {
  const iterator: AsyncIterableIterator<R> = {
    async next(): Promise<IteratorResult<R>> {
      for (;;) {
        const item = await source.next();
        if (item.done) return { done: true, value: undefined };
        const mapped = await map(item.value);
        if (mapped !== undefined) return { done: false, value: mapped };
      }
    },
    async return(): Promise<IteratorResult<R>> {
      await source.return?.();
      return { done: true, value: undefined };
    },
    async throw(error?: unknown): Promise<IteratorResult<R>> {
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** Refuses client operations that select an internal `_...FromEvent` root field; the gateway's own executions may. */
export function internalFieldGuard(internalFields: ReadonlySet<string>) {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue, document }: { operation?: OperationDefinitionNode; contextValue: GatewayContext; document: DocumentNode }) {
          if (contextValue.internal || !operation) return;
          const fragments = new Map(
            document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
          );
          const selectsInternal = (selections: readonly import('graphql').SelectionNode[]): boolean =>
            selections.some((selection) => {
              if (selection.kind === Kind.FIELD) return internalFields.has(selection.name.value);
              if (selection.kind === Kind.INLINE_FRAGMENT) return selectsInternal(selection.selectionSet.selections);
              const fragment = fragments.get(selection.name.value);
              return fragment ? selectsInternal(fragment.selectionSet.selections) : false;
            });
          if (selectsInternal(operation.selectionSet.selections)) {
            throw new AppError(ErrorCode.FORBIDDEN, 'This field is for the gateway\'s own use.', { http: { status: 400 } });
          }
        },
      };
    },
  };
}

export type { WsContext };
