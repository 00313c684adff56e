import type { Request, RequestHandler, Response } from 'express';
import type { GraphQLFormattedError } from 'graphql';
import { LRUCache } from 'lru-cache';
import { AppError } from '../../kernel/src/errors';
import { screenDocument, type OperationLimits } from './operation-limits';
import { negotiatedMediaType } from './http-status';

/** Documents up to this size that passed are remembered, so a storefront's repeated queries are screened once. */
const CACHEABLE_LENGTH = 8192;

/**
 * The document checks Apollo Server has no hook for (they must run before its validation): a
 * refused document never reaches Apollo, let alone a subgraph. Syntax errors are left to Apollo.
 */
export function documentScreen(limits: OperationLimits, formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError): RequestHandler {
  const passed = new LRUCache<string, true>({ max: 2000 });
  return (req, res, next) => {
    const query: unknown = req.method === 'GET' ? req.query.query : (req.body as { query?: unknown } | undefined)?.query;
    if (typeof query !== 'string' || passed.has(query)) return next();
    try {
      screenDocument(query, limits);
    } catch (error) {
      if (!(error instanceof AppError) || !sendRefusal(req, res, error, formatError)) next();
      return;
    }
    if (query.length <= CACHEABLE_LENGTH) passed.set(query, true);
    next();
  };
}

/**
 * Answers a document refused before Apollo. GraphQL over HTTP: 200 under application/json, 400 under
 * application/graphql-response+json. False when the Accept header allows neither (Apollo answers 406).
 */
export function sendRefusal(
  req: Request,
  res: Response,
  error: AppError,
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError,
): boolean {
  const mediaType = negotiatedMediaType(req.headers.accept);
  if (!mediaType) return false;
  res.status(mediaType.startsWith('application/json') ? 200 : 400).type(mediaType);
  res.send(JSON.stringify({ errors: [formatError(error.toJSON(), error)] }));
  return true;
}
