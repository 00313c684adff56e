import fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { GraphQLFormattedError } from 'graphql';
import { AppError, ErrorCode } from '../../kernel/src/errors';
import { sendRefusal } from './document-screen';

/** What Apollo Client's @apollo/generate-persisted-query-manifest writes. */
interface PersistedQueryManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: Array<{ id: string; name: string; type: 'query' | 'mutation' | 'subscription'; body: string }>;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The allowed operations: body by id, and every body. */
export interface TrustedDocuments {
  byId: Map<string, string>;
  bodies: Set<string>;
}

/** Reads and checks a manifest; a malformed one stops the gateway at start, naming the file. */
export function loadTrustedDocuments(file: string): TrustedDocuments {
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<PersistedQueryManifest>;
  if (manifest.format !== 'apollo-persisted-query-manifest' || manifest.version !== 1 || !Array.isArray(manifest.operations)) {
    throw new Error(`${file} is not an apollo-persisted-query-manifest, version 1`);
  }
  const byId = new Map<string, string>();
  for (const operation of manifest.operations) {
    if (typeof operation?.id !== 'string' || typeof operation.body !== 'string') throw new Error(`${file}: every operation needs a string id and body`);
    byId.set(operation.id, operation.body);
  }
  return { byId, bodies: new Set(byId.values()) };
}

export const notInList = () =>
  new AppError(ErrorCode.PERSISTED_QUERY_NOT_IN_LIST, 'This gateway runs only the operations of its trusted documents; this one is not among them.');

interface PersistedQueryExtension {
  version?: number;
  sha256Hash?: string;
}

/**
 * Trusted documents: only the manifest's operations run, sent by id (`extensions.persistedQuery.sha256Hash`,
 * as APQ sends it) or as the full body. A request with the id alone gets the body put in before Apollo
 * sees it; anything else is refused before it is parsed.
 */
export function trustedDocumentsGuard(documents: TrustedDocuments, formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError): RequestHandler {
  return (req, res, next) => {
    const get = req.method === 'GET';
    const params = get ? (req.query as Record<string, unknown>) : ((req.body ?? {}) as Record<string, unknown>);
    if (typeof params !== 'object' || Array.isArray(params)) return next();
    const query = params.query;
    if (typeof query === 'string') {
      return documents.bodies.has(query) ? next() : refuse();
    }
    const extensions = get && typeof params.extensions === 'string' ? parseJson(params.extensions) : params.extensions;
    const id = (extensions as { persistedQuery?: PersistedQueryExtension } | undefined)?.persistedQuery?.sha256Hash;
    const body = typeof id === 'string' ? documents.byId.get(id) : undefined;
    if (body === undefined) return refuse();
    // Apollo checks a sent hash against the body; a manifest id that is not the body's SHA-256 is ours to vouch for.
    const keepHash = sha256(body) === id;
    if (get) {
      const url = new URL(req.url, 'http://gateway');
      url.searchParams.set('query', body);
      if (!keepHash) url.searchParams.delete('extensions');
      req.url = url.pathname + url.search;
    } else {
      params.query = body;
      if (!keepHash) delete (params.extensions as { persistedQuery?: unknown }).persistedQuery;
    }
    next();

    function refuse() {
      // Never passed on: an Accept header that allows no GraphQL media type gets Apollo's answer to it.
      if (!sendRefusal(req, res, notInList(), formatError)) res.status(406).type('text/plain').send('Accept application/json or application/graphql-response+json.');
    }
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
