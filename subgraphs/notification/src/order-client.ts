import type { SubgraphClient } from '../../../kernel/src/subgraph-client';
import { RespondToOrderDocument, type RespondToOrderMutation } from '../../../generated/graphql/notification/order-client';

export type OrderResponse = RespondToOrderMutation['respondToOrder'];

/** What this service asks of the order subgraph. */
export class OrderResponses {
  constructor(private readonly client: SubgraphClient) {}

  /** The user behind a Telegram chat confirms or cancels their order (the order service checks it is theirs). */
  async respond(orderId: string, userId: string, confirm: boolean): Promise<OrderResponse> {
    const data = await this.client.data(RespondToOrderDocument, { id: orderId, userId, confirm });
    return data.respondToOrder;
  }
}
