import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';

/** A plain HTTP GraphQL client for tests: what a web or mobile front end sends. */
export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  headers: Headers;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
  raw: string;
}

export interface RequestOptions {
  token?: string;
  headers?: Record<string, string>;
}

/**
 * An operation: a `gql(...)` document from generated/graphql/gateway (checked against the API schema
 * by `npm run codegen`, its result and variables typed), or a plain string for what a typed document
 * can't be (a malformed or refused query, on purpose).
 */
export type Operation<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> | string;

/**
 * The operation's text. Codegen skips an unnamed `gql(...)` operation (and one it has not seen yet),
 * whose `gql()` then returns `{}`: that is a mistake in the test, said here rather than sent as
 * "[object Object]".
 */
export function operationText<T, V>(query: Operation<T, V>): string {
  if (typeof query === 'string' || query instanceof String) return String(query);
  throw new Error('This gql(...) document was not generated: give the operation a name and run npm run codegen.');
}

export async function graphql<T = Record<string, any>, V = Record<string, unknown>>(
  url: string,
  query: Operation<T, V>,
  variables?: V,
  options: RequestOptions = {},
): Promise<GraphQLResponse<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query: operationText(query), variables: variables ?? {} }) });
  const raw = await response.text();
  let body: { data?: T; errors?: GraphQLResponse['errors'] } = {};
  try {
    body = JSON.parse(raw);
  } catch {
    // leave body empty; the test sees `raw`
  }
  return { status: response.status, headers: response.headers, data: body.data, errors: body.errors, raw };
}

/** The `extensions.code` of the first error, for compact assertions. */
export const firstErrorCode = (response: GraphQLResponse<unknown>) => response.errors?.[0]?.extensions?.code;
