import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import { requestHeaders } from './request-context';

/** What a subgraph answered: its data, or its errors with their codes. */
export interface SubgraphAnswer<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string; [key: string]: unknown } }>;
}

/** The subgraph could not be asked: unreachable, too slow, a 5xx, or not GraphQL at all. */
export class SubgraphUnavailable extends Error {
  override name = 'SubgraphUnavailable';
}

/** The subgraph answered with a GraphQL error: its `extensions.code` (`FORBIDDEN`, `CONFLICT`, ...) and message. */
export class SubgraphRefusal extends Error {
  override name = 'SubgraphRefusal';
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface SubgraphClientOptions {
  /** For messages: "catalog", "inventory", ... */
  name: string;
  url: string;
  /** A fresh service token (JwtService.signService) for each call. */
  serviceToken: () => Promise<string>;
  timeoutMs?: number;
}

/**
 * An operation on another subgraph, typed by `npm run codegen` from the caller's
 * `<target>-client.graphql` against the target's schema (generated/graphql/<caller>/<target>-client.ts).
 */
export type SubgraphOperation<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> & { toString(): string };

/** POSTs GraphQL straight to another subgraph as a platform service (the gateway is for clients). */
export class SubgraphClient {
  constructor(private readonly options: SubgraphClientOptions) {}

  /** The whole answer, errors included; throws SubgraphUnavailable when there is no GraphQL answer. */
  async request<T, V>(operation: SubgraphOperation<T, V>, variables: V): Promise<SubgraphAnswer<T>> {
    const { name, url, serviceToken, timeoutMs = 10_000 } = this.options;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method: 'POST',
        // The request this call is part of goes along: x-request-id here, traceparent from the undici instrumentation.
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await serviceToken()}`, ...requestHeaders() },
        body: JSON.stringify({ query: operation.toString(), variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw new SubgraphUnavailable(`${name} did not answer: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
    }
    if (response.status >= 500) throw new SubgraphUnavailable(`${name} answered HTTP ${response.status}`);
    try {
      return JSON.parse(text) as SubgraphAnswer<T>;
    } catch {
      throw new SubgraphUnavailable(`${name} answered HTTP ${response.status} with something that is not JSON`);
    }
  }

  /** Just the data: a GraphQL error becomes a SubgraphRefusal, no answer a SubgraphUnavailable. */
  async data<T, V>(operation: SubgraphOperation<T, V>, variables: V): Promise<T> {
    const answer = await this.request(operation, variables);
    const error = answer.errors?.[0];
    if (error) throw new SubgraphRefusal(error.message, error.extensions?.code, error.extensions);
    if (!answer.data) throw new SubgraphUnavailable(`${this.options.name} answered without data`);
    return answer.data;
  }
}
