import type { SubgraphClient } from '../../../kernel/src/subgraph-client';

export interface BoundUser {
  id: string;
  /** E.164, as the auth service normalized it. */
  phone: string;
}

/** What this service asks of the auth subgraph. */
export class AuthUsers {
  constructor(private readonly client: SubgraphClient) {}

  /** Binds the chat to the shared contact's phone (the auth service normalizes and validates it). */
  async bindTelegram(contact: { phone: string; chatId: bigint; telegramUserId: bigint }): Promise<BoundUser> {
    const data = await this.client.data<{ bindTelegram: BoundUser }>(
      'mutation($phone: String!, $chatId: String!, $telegramUserId: String!) { bindTelegram(phone: $phone, chatId: $chatId, telegramUserId: $telegramUserId) { id phone } }',
      { phone: contact.phone, chatId: contact.chatId.toString(), telegramUserId: contact.telegramUserId.toString() },
    );
    return data.bindTelegram;
  }

  async adminUserIds(): Promise<string[]> {
    const data = await this.client.data<{ adminUserIds: string[] }>('query { adminUserIds }', {});
    return data.adminUserIds;
  }
}

export interface OrderResponse {
  id: string;
  number: string;
  status: string;
}

/** What this service asks of the order subgraph. */
export class OrderResponses {
  constructor(private readonly client: SubgraphClient) {}

  /** The user behind a Telegram chat confirms or cancels their order (the order service checks it is theirs). */
  async respond(orderId: string, userId: string, confirm: boolean): Promise<OrderResponse> {
    const data = await this.client.data<{ respondToOrder: OrderResponse }>(
      'mutation($id: ID!, $userId: ID!, $confirm: Boolean!) { respondToOrder(id: $id, userId: $userId, confirm: $confirm) { id number status } }',
      { id: orderId, userId, confirm },
    );
    return data.respondToOrder;
  }
}
