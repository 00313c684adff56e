import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import { Pool } from 'undici';
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

/**
 * POSTs GraphQL straight to another subgraph as a platform service (the gateway is for clients), with
 * undici's `request` on a keep-alive pool: fetch's WHATWG streams cost the order service more CPU per
 * saga step than the step's own statements.
 */
export class SubgraphClient {
  private readonly pool: Pool;
  private readonly path: string;

  constructor(private readonly options: SubgraphClientOptions) {
    const target = new URL(options.url);
    this.pool = new Pool(target.origin);
    this.path = `${target.pathname}${target.search}`;
  }

  /** The whole answer, errors included; throws SubgraphUnavailable when there is no GraphQL answer. */
  async request<T, V>(operation: SubgraphOperation<T, V>, variables: V): Promise<SubgraphAnswer<T>> {
    const { name, serviceToken, timeoutMs = 10_000 } = this.options;
    let status: number;
    let text: string;
    try {
      const response = await this.pool.request({
        path: this.path,
        method: 'POST',
        // The request this call is part of goes along: x-request-id here, traceparent from the undici instrumentation.
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await serviceToken()}`, ...requestHeaders() },
        body: JSON.stringify({ query: operation.toString(), variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      throw new SubgraphUnavailable(`${name} did not answer: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
    }
    if (status >= 500) throw new SubgraphUnavailable(`${name} answered HTTP ${status}`);
    try {
      return JSON.parse(text) as SubgraphAnswer<T>;
    } catch {
      throw new SubgraphUnavailable(`${name} answered HTTP ${status} with something that is not JSON`);
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
