import type { ErrorRequestHandler, Express, RequestHandler } from 'express';
import express from 'express';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode, isAppError, type AppError } from './errors';
import type { Logger } from './logger';
import { requestIdFor, runForRequest } from './request-context';

/** Largest JSON body a GraphQL endpoint accepts. */
export const MAX_BODY_BYTES = 100 * 1024;

export type ReadinessCheck = () => Promise<boolean>;

type Checks = Record<string, ReadinessCheck> | (() => Record<string, ReadinessCheck>);

/**
 * GET /health (the process is alive) and GET /ready (each named dependency answers, and the process
 * is not stopping). `checks` may be a function when the dependencies change. `reported` are shown but
 * not required (the gateway's subgraphs: one subgraph down must not take every gateway out of the load
 * balancer, the rest of the shop still works): while one is down the answer is 200 "degraded".
 */
export function healthRoutes(app: Express, checks: Checks, stopping: () => boolean = () => false, reported: Checks = {}): void {
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const run = (named: Checks) => {
    const current = typeof named === 'function' ? named() : named;
    return Promise.all(Object.entries(current).map(async ([name, check]) => [name, await check()] as const));
  };
  app.get('/ready', async (_req, res) => {
    // First thing on SIGTERM: load balancers take the process out before its port closes.
    if (stopping()) {
      res.status(503).json({ status: 'stopping' });
      return;
    }
    const [required, shown] = await Promise.all([run(checks), run(reported)]);
    const ready = required.every(([, ok]) => ok);
    const status = !ready ? 'unavailable' : shown.every(([, ok]) => ok) ? 'ready' : 'degraded';
    res.status(ready ? 200 : 503).json({
      status,
      checks: Object.fromEntries([...required, ...shown].map(([name, ok]) => [name, ok ? 'up' : 'down'])),
    });
  });
}

/**
 * Each request runs as work for its request id (request-context.ts), answered in x-request-id: the
 * trace id when tracing, else the caller's x-request-id (the gateway's, for a subgraph), else a new one.
 */
export function requestIds(): RequestHandler {
  return (req, res, next) => {
    const requestId = requestIdFor(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    runForRequest(requestId, next);
  };
}

/** One debug line per GraphQL operation served (the logger's mixin adds its request id). */
export function requestLog(logger: Logger): ApolloServerPlugin {
  return {
    async requestDidStart({ request }) {
      const started = performance.now();
      return {
        async willSendResponse({ operationName, errors }) {
          logger.debug(
            { operationName: operationName ?? request.operationName ?? null, errors: errors?.length ?? 0, ms: Math.round(performance.now() - started) },
            'graphql operation served',
          );
        },
      };
    },
  };
}

/** The JSON body parser for /graphql, bounded in size. */
export const graphqlBodyParser = (): RequestHandler => express.json({ limit: MAX_BODY_BYTES });

/** Body-parser failures (too large, not JSON) answered as GraphQL errors with a code instead of an HTML 4xx/500. */
export function graphqlBodyErrors(logger: Logger): ErrorRequestHandler {
  return (error: { type?: string; status?: number; message?: string }, _req, res, next) => {
    if (res.headersSent) return next(error);
    if (error.type === 'entity.too.large') {
      res.status(413).json({
        errors: [{ message: `The request body is larger than ${MAX_BODY_BYTES} bytes.`, extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE } }],
      });
      return;
    }
    if (error.type === 'entity.parse.failed' || error.type === 'encoding.unsupported' || error.type === 'charset.unsupported') {
      res.status(400).json({ errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
      return;
    }
    logger.error({ err: error }, 'unhandled HTTP error');
    res.status(500).json({ errors: [{ message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }] });
  };
}

/** Our own refusal behind the error: thrown by a resolver, or reported by a validation rule (Apollo wraps those). */
export function appErrorOf(error: unknown): AppError | undefined {
  const original = unwrapResolverError(error);
  if (isAppError(original)) return original;
  if (original instanceof GraphQLError && isAppError(original.originalError)) return original.originalError;
  return undefined;
}

/**
 * Apollo's formatError: our own errors and GraphQL's validation errors pass through; anything
 * unexpected is logged and masked, so a client never sees a stack trace or a driver message.
 */
export function formatError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const app = appErrorOf(error);
    if (app) {
      // `http` is for Apollo (status, headers), not for the client.
      const { http: _http, ...extensions } = app.extensions;
      return { ...formatted, message: app.message, extensions };
    }
    const code = formatted.extensions?.code;
    // DOWNSTREAM_SERVICE_ERROR: the gateway's wrapper for a subgraph error without a code of ours; its raw message may hold anything.
    if (code && code !== ErrorCode.INTERNAL_SERVER_ERROR && code !== 'DOWNSTREAM_SERVICE_ERROR') {
      const { stacktrace: _stacktrace, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    logger.error({ err: unwrapResolverError(error) }, 'unexpected error in a resolver');
    return {
      message: 'Something went wrong on our side; it has been logged.',
      path: formatted.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}
