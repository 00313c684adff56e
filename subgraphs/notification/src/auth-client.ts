import type { SubgraphClient } from '../../../kernel/src/subgraph-client';
import { AdminUserIdsDocument, BindTelegramDocument, type BindTelegramMutation } from '../../../generated/graphql/notification/auth-client';

/** The user a chat is bound to; `phone` in E.164, as the auth service normalized it. */
export type BoundUser = BindTelegramMutation['bindTelegram'];

/** How long the list of admins is reused: every new order and every low StockChanged asks for it. */
const ADMIN_IDS_TTL_MS = 5_000;

/** What this service asks of the auth subgraph. */
export class AuthUsers {
  private admins: { ids: Promise<string[]>; until: number } | undefined;

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

  /**
   * The admins' user ids, asked of auth at most once per ADMIN_IDS_TTL_MS (callers at the same moment share
   * one request; a failure is not kept): a new admin hears of orders and low stock within that time.
   */
  adminUserIds(): Promise<string[]> {
    const now = Date.now();
    if (this.admins && this.admins.until > now) return this.admins.ids;
    const ids = this.client.data(AdminUserIdsDocument, {}).then((data) => data.adminUserIds);
    const held = { ids, until: now + ADMIN_IDS_TTL_MS };
    this.admins = held;
    ids.catch(() => {
      if (this.admins === held) this.admins = undefined;
    });
    return ids;
  }
}
