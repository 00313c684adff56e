import { TRANSACTION_OPTIONS, type PrismaClient, type TelegramChat } from '../../../kernel/src/prisma';

/** Where each user is reached in Telegram: one chat per user, one user per chat. */
export class TelegramChats {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Records that `chatId` belongs to `userId` (after the auth service bound it): the user's previous
   * chat is forgotten, a chat that belonged to someone else moves, and a block mark is cleared.
   */
  async bind(userId: string, chatId: bigint, telegramUserId: bigint): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      await tx.telegramChat.deleteMany({ where: { userId, NOT: { chatId } } });
      await tx.telegramChat.upsert({
        where: { chatId },
        create: { chatId, userId, telegramUserId },
        update: { userId, telegramUserId, blockedAt: null },
      });
    }, TRANSACTION_OPTIONS);
  }

  findByChat(chatId: bigint): Promise<TelegramChat | null> {
    return this.prisma.telegramChat.findUnique({ where: { chatId } });
  }

  /** Telegram answered 403: nothing more goes to this chat until its owner sends /start again. */
  async markBlocked(chatId: bigint): Promise<void> {
    await this.prisma.telegramChat.updateMany({ where: { chatId, blockedAt: null }, data: { blockedAt: new Date() } });
  }

  /** The person wrote to the bot (/start), so it may write to them again. */
  async unblock(chatId: bigint): Promise<void> {
    await this.prisma.telegramChat.updateMany({ where: { chatId, NOT: { blockedAt: null } }, data: { blockedAt: null } });
  }
}
