import type { SubgraphClient } from '../../../kernel/src/subgraph-client';
import { AdminUserIdsDocument, BindTelegramDocument, type BindTelegramMutation } from '../../../generated/graphql/notification/auth-client';

/** The user a chat is bound to; `phone` in E.164, as the auth service normalized it. */
export type BoundUser = BindTelegramMutation['bindTelegram'];

/** What this service asks of the auth subgraph. */
export class AuthUsers {
  constructor(private readonly client: SubgraphClient) {}

  /** Binds the chat to the shared contact's phone (the auth service normalizes and validates it). */
  async bindTelegram(contact: { phone: string; chatId: bigint; telegramUserId: bigint }): Promise<BoundUser> {
    const data = await this.client.data(BindTelegramDocument, {
      phone: contact.phone,
      chatId: contact.chatId.toString(),
      telegramUserId: contact.telegramUserId.toString(),
    });
    return data.bindTelegram;
  }

  async adminUserIds(): Promise<string[]> {
    const data = await this.client.data(AdminUserIdsDocument, {});
    return data.adminUserIds;
  }
}
