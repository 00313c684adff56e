import type http from 'node:http';
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  getOperationAST,
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
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { Context as WsContext } from 'graphql-ws';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { ApolloServer } from '@apollo/server';
import type { Redis } from '../../kernel/src/redis';
import type { Logger } from '../../kernel/src/logger';
import { ErrorCode } from '../../kernel/src/errors';
import type { GatewayContext, GatewayIdentity } from './identity';
import type { SubscriptionRoute } from './subscription-routes';

const EVENT_VARIABLE = '__event';

/**
 * Subscriptions over graphql-ws at the gateway's /graphql. @apollo/gateway plans no subscriptions,
 * so for each event from Redis the subscription is rewritten into a query on the owning subgraph's
 * `_<x>FromEvent(event:)` root field with the same selection set, and run through the gateway's own
 * planner: federated fields (a StockUpdate's `product { name }`) resolve like in any query.
 */
export class SubscriptionServer {
  private readonly pubsub: RedisPubSub;
  private readonly contexts = new WeakMap<object, GatewayContext>();
  private dispose?: () => Promise<void>;
  private wsServer?: WebSocketServer;

  constructor(
    private readonly options: {
      httpServer: http.Server;
      apollo: ApolloServer<GatewayContext>;
      schema: () => GraphQLSchema | undefined;
      identity: GatewayIdentity;
      routes: Record<string, SubscriptionRoute>;
      redis: Redis;
      logger: Logger;
    },
  ) {
    this.pubsub = new RedisPubSub({ publisher: options.redis.duplicate(), subscriber: options.redis.duplicate() });
  }

  start(): void {
    const { httpServer, logger } = this.options;
    this.wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
    const cleanup = useServer(
      {
        schema: () => {
          const schema = this.options.schema();
          if (!schema) throw new Error('the supergraph is not loaded yet');
          return schema;
        },
        // A bad token closes the socket with 4403; no token is an anonymous subscriber.
        onConnect: async (ctx) => {
          const header = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
          const ip = ctx.extra && 'request' in ctx.extra ? (ctx.extra.request as http.IncomingMessage).socket.remoteAddress : undefined;
          try {
            this.contexts.set(ctx, await this.options.identity.contextForHeader(typeof header === 'string' ? header : undefined, ip));
            return true;
          } catch {
            return false;
          }
        },
        context: (ctx) => this.contexts.get(ctx) as unknown as Record<string, unknown>,
        subscribe: (args) => this.subscribe(args),
        execute: (args) => this.executeThroughGateway(args, args.document),
        onError: (_ctx, _id, _payload, errors) => {
          logger.debug({ errors: errors.map((e) => e.message) }, 'subscription refused');
        },
      },
      this.wsServer,
    );
    this.dispose = async () => {
      await cleanup.dispose();
    };
  }

  async stop(): Promise<void> {
    await this.dispose?.();
    await new Promise<void>((resolve) => (this.wsServer ? this.wsServer.close(() => resolve()) : resolve()));
    this.pubsub.close();
  }

  private async subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
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

    const query = rewriteAsEventQuery(args.document, operation, root, route.eventField);
    const source = this.pubsub.asyncIterableIterator<Record<string, unknown>>(route.channel) as AsyncIterator<Record<string, unknown>>;
    return mapAsyncIterator(source, async (event) => {
      if (!route.accepts(rootArgs, event, context.identity)) return undefined;
      const variables = { ...(args.variableValues ?? {}), [EVENT_VARIABLE]: JSON.stringify(event) };
      const result = await this.executeThroughGateway({ ...args, variableValues: variables }, query);
      // The owning subgraph found nothing this subscriber may see: send nothing rather than a null.
      const alias = root.alias?.value ?? root.name.value;
      if (!result.errors && (result.data as Record<string, unknown> | null | undefined)?.[alias] == null) return undefined;
      return result;
    });
  }

  private async executeThroughGateway(args: ExecutionArgs, document: DocumentNode): Promise<ExecutionResult> {
    const response = await this.options.apollo.executeOperation(
      { query: document, variables: (args.variableValues ?? {}) as Record<string, unknown>, operationName: args.operationName ?? undefined },
      { contextValue: { ...(args.contextValue as GatewayContext), internal: true } },
    );
    if (response.body.kind !== 'single') return { errors: [new GraphQLError('Incremental delivery is not supported here.')] };
    const { data, errors } = response.body.singleResult;
    return { data: data as ExecutionResult['data'], ...(errors ? { errors: errors.map(toGraphQLError) } : {}) };
  }
}

/** graphql-ws wants GraphQLError instances; Apollo gives formatted (plain) errors. */
function toGraphQLError(error: GraphQLFormattedError): GraphQLError {
  return new GraphQLError(error.message, { path: error.path, extensions: error.extensions });
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
            throw new GraphQLError('This field is for the gateway\'s own use.', { extensions: { code: ErrorCode.FORBIDDEN } });
          }
        },
      };
    },
  };
}

export type { WsContext };
