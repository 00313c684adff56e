import { TRANSACTION_OPTIONS, type Notification, type PrismaClient, type Prisma, type TelegramChat, type Tx } from '../../../kernel/src/prisma';
import { badUserInput } from '../../../kernel/src/errors';
import { isUuid } from '../../../kernel/src/ids';
import { currentTrace } from '../../../kernel/src/request-context';
import { keysetPage } from '../../../kernel/src/pagination';
import { processOnce } from '../../../kernel/src/events/idempotency';
import type { NotificationDraft } from './messages';

/** An event's notifications, or how to work them out inside its transaction. */
type Drafts = readonly NotificationDraft[] | ((tx: Tx) => Promise<readonly NotificationDraft[]>);

const MAX_IDS = 100;

export interface NotificationServiceOptions {
  /** False without a bot token: nothing is queued for Telegram. */
  telegramEnabled: boolean;
  /** Runs once new notifications have committed (the live feed, the Telegram sender); must not throw. */
  afterCommit?: (created: Notification[]) => Promise<void>;
}

/** A user's notification feed, and the notifications events turn into. */
export class NotificationService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly options: NotificationServiceOptions,
  ) {}

  /** Newest first, by (createdAt, id) keyset. */
  async listForUser(userId: string, options: { unreadOnly: boolean; first: number; after?: string | null }) {
    const { first, after, unreadOnly } = options;
    const where = { userId, ...(unreadOnly ? { readAt: null } : {}) };
    const [page, totalCount] = await Promise.all([
      keysetPage({ first, after }, 'desc', where, (query) => this.prisma.notification.findMany(query)),
      this.prisma.notification.count({ where }),
    ]);
    return { ...page, totalCount };
  }

  /** Marks the user's own notifications among `ids` read (someone else's are ignored); returns them, newest first. */
  async markRead(userId: string, ids: readonly string[]): Promise<Notification[]> {
    if (ids.length > MAX_IDS) throw badUserInput('ids', `Mark at most ${MAX_IDS} notifications at once.`);
    const bad = ids.find((id) => !isUuid(id));
    if (bad !== undefined) throw badUserInput('ids', `"${bad}" is not a valid id.`);
    const unique = [...new Set(ids)];
    if (unique.length === 0) return [];
    // Already read ones keep the time they were first read.
    await this.prisma.notification.updateMany({ where: { id: { in: unique }, userId, readAt: null }, data: { readAt: new Date() } });
    return this.prisma.notification.findMany({ where: { id: { in: unique }, userId }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
  }

  /** The notification when `userId` owns it; null otherwise. */
  async findOwned(userId: string, id: string): Promise<Notification | null> {
    if (!isUuid(id)) return null;
    const notification = await this.prisma.notification.findUnique({ where: { id } });
    return notification?.userId === userId ? notification : null;
  }

  /**
   * Stores what an event means for its recipients, once per consumer and event (and at most one
   * notification per event, recipient and kind, whoever writes it). Each is queued for Telegram when
   * its recipient has a chat that has not blocked the bot, and skipped otherwise. `drafts` may be
   * worked out inside the event's transaction (what it reads and writes then counts once too).
   * Returns the notifications created (none for a duplicate delivery).
   */
  async recordFromEvent(consumer: string, eventId: string, drafts: Drafts): Promise<Notification[]> {
    let created: Notification[] = [];
    await processOnce(this.prisma, 'notification', consumer, eventId, async (tx) => {
      created = await this.insert(tx, typeof drafts === 'function' ? await drafts(tx) : drafts, eventId);
    });
    if (created.length > 0) await this.options.afterCommit?.(created);
    return created;
  }

  /** Notifications no one event stands for (summaries), written in one transaction with what `drafts` changes. */
  async record(drafts: (tx: Tx) => Promise<readonly NotificationDraft[]>): Promise<Notification[]> {
    const created = await this.prisma.$transaction(async (tx) => this.insert(tx, await drafts(tx), null), TRANSACTION_OPTIONS);
    if (created.length > 0) await this.options.afterCommit?.(created);
    return created;
  }

  private async insert(tx: Tx, drafts: readonly NotificationDraft[], eventId: string | null): Promise<Notification[]> {
    const valid = drafts.filter((draft) => isUuid(draft.userId));
    if (valid.length === 0) return [];
    const chats = this.options.telegramEnabled
      ? await tx.telegramChat.findMany({ where: { userId: { in: [...new Set(valid.map((d) => d.userId))] } } })
      : [];
    const chatOf = new Map(chats.map((chat) => [chat.userId, chat]));
    const now = new Date();
    // The Telegram sender sends each as part of the request it came from.
    const trace = currentTrace();
    return tx.notification.createManyAndReturn({
      data: valid.map((draft) => ({ ...draft, eventId, ...trace, ...this.initialDelivery(chatOf.get(draft.userId), now) })),
      skipDuplicates: true,
    });
  }

  private initialDelivery(chat: TelegramChat | undefined, now: Date): Partial<Prisma.NotificationCreateManyInput> {
    if (!this.options.telegramEnabled) return { telegramStatus: 'SKIPPED', telegramError: 'Telegram is not configured' };
    if (!chat) return { telegramStatus: 'SKIPPED', telegramError: 'no Telegram chat is linked' };
    if (chat.blockedAt) return { telegramStatus: 'SKIPPED', telegramError: 'the chat blocked the bot' };
    return { telegramStatus: 'PENDING', telegramNextAttemptAt: now };
  }
}
