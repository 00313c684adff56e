import type http from 'node:http';
import type { RequestHandler, Response } from 'express';
import type { ExecutionArgs, GraphQLError, GraphQLFormattedError } from 'graphql';
import { createHandler } from 'graphql-sse/lib/use/express';
import { AppError, ErrorCode } from '../../kernel/src/errors';
import type { Logger } from '../../kernel/src/logger';
import type { GatewayContext, GatewayIdentity } from './identity';
import type { SubscriptionServer } from './subscriptions';

type FormatError = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/** graphql-sse wants an indexable context. */
type StreamContext = GatewayContext & Record<PropertyKey, unknown>;

const isRefusal = (prepared: ExecutionArgs | readonly GraphQLError[]): prepared is readonly GraphQLError[] => Array.isArray(prepared);

/**
 * GraphQL over server-sent events at the gateway's /graphql, for a request that accepts only
 * `text/event-stream` (graphql-sse's "distinct connections mode": one operation per request).
 * The caller is who the Authorization header says, as for any HTTP request; the operation gets the
 * websockets' checks, limits and shared subscription groups, since SubscriptionServer runs it.
 */
export function sseSubscriptions(options: { subscriptions: SubscriptionServer; identity: GatewayIdentity; formatError: FormatError; logger: Logger }): RequestHandler {
  const { subscriptions, identity, formatError, logger } = options;
  const contexts = new WeakMap<http.IncomingMessage, StreamContext>();
  const handler = createHandler<StreamContext>({
    // No reserved streams: every request is a stream of its own.
    authenticate: () => null,
    context: (req) => contexts.get(req.raw)!,
    onSubscribe: (req, params) => {
      const prepared = subscriptions.prepareOperation(contexts.get(req.raw)!, { query: params.query, variables: params.variables, operationName: params.operationName });
      if (!isRefusal(prepared)) return prepared as ExecutionArgs & { contextValue: StreamContext };
      const body = JSON.stringify({ errors: prepared.map((error) => formatError(error.toJSON(), error)) });
      return [body, { status: 400, statusText: 'Bad Request', headers: { 'content-type': 'application/json; charset=utf-8' } }];
    },
    // prepareOperation has validated a subscription; Apollo validates the queries and mutations it runs.
    validate: () => [],
    execute: (args) => subscriptions.execute(args),
    subscribe: (args) => subscriptions.subscribe(args),
  });

  const refuse = (res: Response, status: number, error: AppError) => res.status(status).json({ errors: [formatError(error.toJSON(), error)] });

  return async (req, res, next) => {
    if (req.headers.accept !== 'text/event-stream') return next();
    // A JSON body was read (bounded) by the body parser; any other body is not read at all.
    if (req.method === 'POST' && req.body === undefined) return refuse(res, 415, new AppError('BAD_REQUEST', 'Send the operation as application/json.'));
    let context: GatewayContext;
    try {
      context = await identity.contextFor(req);
    } catch (error) {
      if (error instanceof AppError) return refuse(res, 401, error);
      return next(error);
    }
    if (!subscriptions.hasRoomFor(req)) {
      return refuse(res, 429, new AppError(ErrorCode.RATE_LIMITED, 'Too many open subscriptions from your network; close one first.'));
    }
    const whenClosed = (listener: () => void) => res.once('close', listener);
    subscriptions.countConnection(req, whenClosed, 'sse');
    // A stream that fell behind is cut (the client reconnects and catches up); an expired token ends it.
    subscriptions.connectionOpened(context, () => res.destroy(), () => res.end(), whenClosed);
    // A stopping gateway ends the stream; the client reconnects, to another one.
    subscriptions.endOnStop(() => res.end(), whenClosed);
    contexts.set(req, context as StreamContext);
    try {
      await handler(req, res);
    } catch (error) {
      logger.error({ err: error }, 'event stream failed');
      if (!res.headersSent) res.status(500).end();
      else res.end();
    }
  };
}
