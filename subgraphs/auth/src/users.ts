import type { PrismaClient, User } from '../../../kernel/src/prisma';
import { badUserInput, notFound, AppError, ErrorCode } from '../../../kernel/src/errors';
import type { Role } from '../../../kernel/src/jwt';
import { decodeCursor, encodeCursor } from '../../../kernel/src/pagination';
import { assertUuid, isUuid } from '../../../kernel/src/ids';


export interface TelegramContact {
  phone: string;
  chatId: number;
  telegramUserId: number;
}

/** Users and their Telegram binding. */
export class UserService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly adminPhones: ReadonlySet<string>,
  ) {}

  /**
   * Binds a Telegram chat to a phone, creating the user on first contact. A chat belongs to one
   * user: binding it to a new phone unbinds it from the old one.
   */
  async bindTelegram(contact: TelegramContact): Promise<User> {
    const chatId = BigInt(contact.chatId);
    return this.prisma.$transaction(async (tx) => {
      await tx.user.updateMany({ where: { telegramChatId: chatId, NOT: { phone: contact.phone } }, data: { telegramChatId: null, telegramUserId: null } });
      return tx.user.upsert({
        where: { phone: contact.phone },
        create: {
          phone: contact.phone,
          role: this.adminPhones.has(contact.phone) ? 'ADMIN' : 'USER',
          telegramChatId: chatId,
          telegramUserId: BigInt(contact.telegramUserId),
        },
        update: { telegramChatId: chatId, telegramUserId: BigInt(contact.telegramUserId) },
      });
    });
  }

  findByPhone(phone: string): Promise<User | null> {
    return this.prisma.user.findUnique({ where: { phone } });
  }

  findById(id: string): Promise<User | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.prisma.user.findUnique({ where: { id } });
  }

  async findManyByIds(ids: readonly string[]): Promise<Map<string, User>> {
    const valid = ids.filter(isUuid);
    const users = valid.length ? await this.prisma.user.findMany({ where: { id: { in: valid } } }) : [];
    return new Map(users.map((u) => [u.id, u]));
  }

  /** A phone listed in ADMIN_PHONES is an admin from its first login on. */
  async promoteIfConfiguredAdmin(user: User): Promise<User> {
    if (user.role === 'ADMIN' || !this.adminPhones.has(user.phone)) return user;
    return this.prisma.user.update({ where: { id: user.id }, data: { role: 'ADMIN' } });
  }

  async setRole(actorId: string, userId: string, role: Role): Promise<User> {
    assertUuid(userId, 'userId');
    if (actorId === userId && role !== 'ADMIN') {
      throw new AppError(ErrorCode.BAD_USER_INPUT, 'You cannot remove your own admin role; ask another admin.', { field: 'userId' });
    }
    const existing = await this.prisma.user.findUnique({ where: { id: userId } });
    if (!existing) throw notFound('User', userId);
    return this.prisma.user.update({ where: { id: userId }, data: { role } });
  }

  /** Oldest first, by (createdAt, id) keyset. */
  async list(first: number, after?: string | null) {
    if (!Number.isInteger(first) || first < 1 || first > 100) throw badUserInput('first', '`first` must be between 1 and 100.');
    const cursor = after ? decodeCursor(after, 'after') : undefined;
    const where = cursor
      ? { OR: [{ createdAt: { gt: new Date(cursor.at) } }, { createdAt: new Date(cursor.at), id: { gt: cursor.id } }] }
      : {};
    const [rows, totalCount] = await Promise.all([
      this.prisma.user.findMany({ where, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], take: first + 1 }),
      this.prisma.user.count(),
    ]);
    const page = rows.slice(0, first);
    const edges = page.map((node) => ({ node, cursor: encodeCursor({ at: node.createdAt.toISOString(), id: node.id }) }));
    return { edges, totalCount, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
  }
}
