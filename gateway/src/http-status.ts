import Negotiator from 'negotiator';
import type { ApolloServerPlugin } from '@apollo/server';

const APPLICATION_JSON = 'application/json; charset=utf-8';
const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json; charset=utf-8';

/** The media type Apollo Server answers with for this Accept header (its own negotiation, same order of preference). */
export function negotiatedMediaType(accept: string | undefined): string | undefined {
  if (!accept) return APPLICATION_JSON;
  return new Negotiator({ headers: { accept } }).mediaType([APPLICATION_JSON, GRAPHQL_RESPONSE_JSON]);
}

/**
 * GraphQL over HTTP: a well-formed request whose document fails to parse, validate, or coerce its
 * variables is answered 200 under `application/json` (legacy clients read the body only then), and
 * keeps its 4xx under `application/graphql-response+json`. Other statuses (401, 405, 413, 429) stay.
 */
export function graphqlOverHttpStatus<TContext extends object>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response }) {
          if (response.http.status !== 400 || !request.http) return;
          if (negotiatedMediaType(request.http.headers.get('accept')) === APPLICATION_JSON) response.http.status = 200;
        },
      };
    },
  };
}
