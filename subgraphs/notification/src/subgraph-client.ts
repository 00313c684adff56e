/** A refusal from another subgraph, with its `extensions.code` (`FORBIDDEN`, `CONFLICT`, ...) and message. */
export class SubgraphRefusal extends Error {
  override name = 'SubgraphRefusal';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** Calls another subgraph's /graphql as this platform service (a service token, never a user's). */
export class SubgraphClient {
  constructor(
    private readonly url: string,
    private readonly serviceToken: () => Promise<string>,
    private readonly timeoutMs = 10_000,
  ) {}

  /** The data, or a SubgraphRefusal for a GraphQL error; network failures throw as they are. */
  async request<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await this.serviceToken()}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    let body: { data?: T | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`${this.url} answered ${response.status} without JSON`);
    }
    const error = body.errors?.[0];
    if (error) throw new SubgraphRefusal(error.message, error.extensions?.code);
    if (!body.data) throw new Error(`${this.url} answered ${response.status} without data`);
    return body.data;
  }
}

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
    const data = await this.client.request<{ bindTelegram: BoundUser }>(
      'mutation($phone: String!, $chatId: String!, $telegramUserId: String!) { bindTelegram(phone: $phone, chatId: $chatId, telegramUserId: $telegramUserId) { id phone } }',
      { phone: contact.phone, chatId: contact.chatId.toString(), telegramUserId: contact.telegramUserId.toString() },
    );
    return data.bindTelegram;
  }

  async adminUserIds(): Promise<string[]> {
    const data = await this.client.request<{ adminUserIds: string[] }>('query { adminUserIds }', {});
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
    const data = await this.client.request<{ respondToOrder: OrderResponse }>(
      'mutation($id: ID!, $userId: ID!, $confirm: Boolean!) { respondToOrder(id: $id, userId: $userId, confirm: $confirm) { id number status } }',
      { id: orderId, userId, confirm },
    );
    return data.respondToOrder;
  }
}
