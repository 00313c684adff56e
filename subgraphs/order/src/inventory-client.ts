import { SubgraphUnavailable, type SubgraphClient, type SubgraphOperation } from '../../../kernel/src/subgraph-client';
import {
  CommitStockDocument,
  ReleaseStockDocument,
  ReserveStockDocument,
  type ReservationStateFragment,
  type ReservationLineInput,
} from '../../../generated/graphql/order/inventory-client';

export type ReservationState = ReservationStateFragment;

/**
 * What a saga step learns from the inventory:
 * - done: the inventory applied it (or had already: every call is idempotent per order id);
 * - refused: a definite no (OUT_OF_STOCK, RESERVATION_EXPIRED, ...) that retrying will not change;
 * - unavailable: no answer (unreachable, timeout, 5xx, an unexpected error): the step may or may not have happened.
 */
export type InventoryOutcome =
  | { kind: 'done'; reservation: ReservationState }
  | { kind: 'refused'; code: string; message: string; extensions: Record<string, unknown> }
  | { kind: 'unavailable'; message: string };

/** Refusals that are answers; any other error code is treated as the inventory being unwell. */
const DEFINITE_REFUSALS = new Set(['OUT_OF_STOCK', 'RESERVATION_EXPIRED', 'NOT_FOUND', 'BAD_USER_INPUT']);

/** The inventory's reservation API for the order saga (platform-service fields, called on the subgraph directly). */
export class InventoryClient {
  constructor(private readonly client: SubgraphClient) {}

  reserve(orderId: string, lines: ReservationLineInput[]): Promise<InventoryOutcome> {
    return this.call('reserveStock', ReserveStockDocument, { orderId, lines });
  }

  commit(orderId: string): Promise<InventoryOutcome> {
    return this.call('commitStock', CommitStockDocument, { orderId });
  }

  release(orderId: string): Promise<InventoryOutcome> {
    return this.call('releaseStock', ReleaseStockDocument, { orderId });
  }

  private async call<F extends string, V>(
    field: F,
    operation: SubgraphOperation<{ [K in F]: ReservationState }, V>,
    variables: V,
  ): Promise<InventoryOutcome> {
    try {
      const answer = await this.client.request(operation, variables);
      const reservation = answer.data?.[field];
      if (reservation) return { kind: 'done', reservation };
      const error = answer.errors?.[0];
      const code = error?.extensions?.code;
      if (error && code && DEFINITE_REFUSALS.has(code)) {
        return { kind: 'refused', code, message: error.message, extensions: error.extensions ?? {} };
      }
      return { kind: 'unavailable', message: `${field} failed: ${error ? `${code ?? 'no code'}: ${error.message}` : 'no data'}` };
    } catch (error) {
      if (error instanceof SubgraphUnavailable) return { kind: 'unavailable', message: error.message };
      throw error;
    }
  }
}
