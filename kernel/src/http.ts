import type { ErrorRequestHandler, Express, RequestHandler } from 'express';
import express from 'express';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type ApolloServerPlugin, type BaseContext as BaseContextShape } from '@apollo/server';
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

/** What a /graphql request that never reached Apollo is answered: a GraphQL error with a code. */
interface Refusal {
  status: number;
  message: string;
  code: string;
}
const REFUSALS = {
  tooLarge: { status: 413, message: `The request body is larger than ${MAX_BODY_BYTES} bytes.`, code: ErrorCode.PAYLOAD_TOO_LARGE },
  notJson: { status: 400, message: 'The request body is not valid JSON.', code: 'BAD_REQUEST' },
  internal: { status: 500, message: 'Internal server error', code: ErrorCode.INTERNAL_SERVER_ERROR },
} satisfies Record<string, Refusal>;
const refusalBody = ({ message, code }: Refusal) => ({ errors: [{ message, extensions: { code } }] });

/** Body-parser failures (too large, not JSON) answered as GraphQL errors with a code instead of an HTML 4xx/500. */
export function graphqlBodyErrors(logger: Logger): ErrorRequestHandler {
  return (error: { type?: string; status?: number; message?: string }, _req, res, next) => {
    if (res.headersSent) return next(error);
    const known =
      error.type === 'entity.too.large'
        ? REFUSALS.tooLarge
        : error.type === 'entity.parse.failed' || error.type === 'encoding.unsupported' || error.type === 'charset.unsupported'
          ? REFUSALS.notJson
          : undefined;
    if (!known) logger.error({ err: error }, 'unhandled HTTP error');
    const refusal = known ?? REFUSALS.internal;
    res.status(refusal.status).json(refusalBody(refusal));
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

/** graphqlBodyErrors' answer, on a plain node:http response. */
function refuse(res: ServerResponse, refusal: Refusal): void {
  const body = JSON.stringify(refusalBody(refusal));
  res.writeHead(refusal.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The body, or undefined once it passed `limit` bytes (the rest is drained, not kept). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      req.resume();
      req.once('end', () => resolve(undefined)).once('error', reject);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.once('end', () => resolve(size > limit ? undefined : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

const isJson = (contentType: string | undefined) => !!contentType && /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType);

/**
 * POST /graphql served straight from node:http into Apollo Server, without express: no router, no
 * body-parser, no ETag hashed over each answer (express's res.send did that for every response). The
 * same behaviour as express.json + expressMiddleware + graphqlBodyErrors: a request id for the request,
 * bodies above MAX_BODY_BYTES answered 413 PAYLOAD_TOO_LARGE, a body that is not JSON 400 BAD_REQUEST.
 * Anything else (GET, other content types, other paths) returns false: the caller's express app serves it.
 */
export function graphqlHttpHandler<TContext extends BaseContextShape>(
  apollo: ApolloServer<TContext>,
  context: (req: IncomingMessage) => Promise<TContext>,
  logger: Logger,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const serve = async (req: IncomingMessage, res: ServerResponse, search: string): Promise<void> => {
    const raw = await readBody(req, MAX_BODY_BYTES);
    if (!raw) return refuse(res, REFUSALS.tooLarge);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return refuse(res, REFUSALS.notJson);
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    const answer = await apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest: { method: 'POST', headers, search, body }, context: () => context(req) });
    for (const [key, value] of answer.headers) res.setHeader(key, value);
    res.statusCode = answer.status ?? 200;
    if (answer.body.kind === 'complete') {
      res.setHeader('content-length', Buffer.byteLength(answer.body.string));
      res.end(answer.body.string);
      return;
    }
    for await (const chunk of answer.body.asyncIterator) res.write(chunk);
    res.end();
  };
  return (req, res) => {
    const url = req.url ?? '';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    if (req.method !== 'POST' || (path !== '/graphql' && path !== '/graphql/') || !isJson(req.headers['content-type'])) return false;
    const requestId = requestIdFor(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    runForRequest(requestId, () =>
      serve(req, res, queryAt < 0 ? '' : url.slice(queryAt)).catch((error: unknown) => {
        logger.error({ err: error }, 'unhandled HTTP error');
        if (!res.headersSent) refuse(res, REFUSALS.internal);
        else res.destroy();
      }),
    );
    return true;
  };
}
