import { TRANSACTION_OPTIONS, type PrismaClient, type User } from '../../../kernel/src/prisma';
import { badUserInput, notFound, AppError, ErrorCode } from '../../../kernel/src/errors';
import type { Role } from '../../../kernel/src/jwt';
import { keysetPage } from '../../../kernel/src/pagination';
import { assertUuid, isUuid } from '../../../kernel/src/ids';
import { normalizeTelegramPhone } from './phone';

/** A contact shared in Telegram, as the notification service's bot received it. */
export interface TelegramContact {
  /** As Telegram sends it: often without the leading "+". */
  phone: string;
  chatId: string;
  telegramUserId: string;
}

/** A Telegram chat or user id: up to 52 bits, so it travels as a string (GraphQL's Int has 32). */
function telegramId(value: string, field: string): bigint {
  if (!/^-?\d{1,18}$/.test(value.trim())) throw badUserInput(field, `"${value}" is not a Telegram id.`);
  return BigInt(value.trim());
}

/** Users and their Telegram binding. */
export class UserService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly adminPhones: ReadonlySet<string>,
    private readonly defaultRegion?: string,
  ) {}

  /**
   * Binds a Telegram chat to a phone, creating the user on first contact. A chat belongs to one
   * user: binding it to a new phone unbinds it from the old one.
   */
  async bindTelegram(contact: TelegramContact): Promise<User> {
    const phone = normalizeTelegramPhone(contact.phone, this.defaultRegion);
    const chatId = telegramId(contact.chatId, 'chatId');
    const telegramUserId = telegramId(contact.telegramUserId, 'telegramUserId');
    return this.prisma.$transaction(async (tx) => {
      await tx.user.updateMany({ where: { telegramChatId: chatId, NOT: { phone } }, data: { telegramChatId: null, telegramUserId: null } });
      return tx.user.upsert({
        where: { phone },
        create: { phone, role: this.adminPhones.has(phone) ? 'ADMIN' : 'USER', telegramChatId: chatId, telegramUserId },
        update: { telegramChatId: chatId, telegramUserId },
      });
    }, TRANSACTION_OPTIONS);
  }

  /** Ids of every admin, oldest first. */
  async adminIds(): Promise<string[]> {
    const admins = await this.prisma.user.findMany({ where: { role: 'ADMIN' }, select: { id: true }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    return admins.map((admin) => admin.id);
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
    const [page, totalCount] = await Promise.all([
      keysetPage({ first, after }, 'asc', {}, (query) => this.prisma.user.findMany(query)),
      this.prisma.user.count(),
    ]);
    return { ...page, totalCount };
  }
}
