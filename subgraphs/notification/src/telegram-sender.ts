import { TelegramApiError, type Api } from 'node-telegram-bot-api';
import { Prisma, type NotificationKind, type PrismaClient, type TelegramChat } from '../../../kernel/src/prisma';
import type { Logger } from '../../../kernel/src/logger';
import { Metrics } from '../../../kernel/src/metrics';
import { claimDue } from '../../../kernel/src/claim-due';
import { PollingWorker } from '../../../kernel/src/polling-worker';
import { continueTrace } from '../../../kernel/src/request-context';
import { telegramText } from './messages';
import { OrderButtons } from './order-buttons';
import type { TelegramChats } from './telegram-chats';

export interface TelegramSenderOptions {
  /** How often it looks for due messages when nobody kicks it. */
  intervalMs: number;
  /** Attempts before a message is given up as FAILED; a 429 does not count (Telegram said when to come back). */
  maxAttempts: number;
  batchSize?: number;
  /** A claimed message not settled within this is claimed again (the process sending it died). */
  leaseMs?: number;
  /** First retry after about this long, doubling up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Chats sent to at once (each chat's messages still go one after another, in order); 8 unless told. */
  concurrency?: number;
  /** Sends by outcome, 429s, blocked chats, and (read on scrape) the messages waiting. */
  metrics?: Metrics;
}

/** One user's claimed messages, sent one after another. */
interface Lane {
  userId: string;
  rows: Claimed[];
  chat: TelegramChat | undefined;
}

/** A notification claimed for sending. */
interface Claimed {
  id: string;
  user_id: string;
  kind: NotificationKind;
  title: string;
  body: string;
  order_id: string | null;
  attempts: number;
  created_at: Date;
  request_id: string | null;
  traceparent: string | null;
}

type Outcome =
  | { status: 'SENT'; messageId: number }
  | { status: 'RETRY'; at: Date; error: string; attempted: boolean }
  | { status: 'FAILED' | 'SKIPPED'; error: string; attempted: boolean; chatBlocked?: boolean };

const TABLE = '"notification"."notifications"';

/**
 * Sends pending notifications to their users' Telegram chats in the background, so neither the saga
 * nor an event consumer ever waits on Telegram. Rows are claimed with FOR UPDATE SKIP LOCKED and
 * a lease (telegram_next_attempt_at pushed ahead), so several processes never send one twice.
 * Transient failures are retried with capped exponential backoff; a 429 waits the retry_after it
 * was told (and pauses this sender as a whole: the limit is the bot's); a 403 marks the chat
 * blocked, and nothing more goes there until its owner sends /start again.
 */
export class TelegramSender {
  private readonly batchSize: number;
  private readonly concurrency: number;
  /** The users with claimed messages, by user id: being sent to, or waiting for a free sender. */
  private readonly lanes = new Map<string, Lane>();
  private readonly waiting: Lane[] = [];
  /** At most `concurrency` senders, each working through waiting lanes (`activeRunners` of them not yet done). */
  private readonly runners = new Set<Promise<void>>();
  private activeRunners = 0;
  private readonly leaseMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly worker: PollingWorker<number>;
  private pausedUntil = 0;
  private abort = new AbortController();
  private readonly sends;
  private readonly rateLimits;
  private readonly blockedChats;

  constructor(
    private readonly prisma: PrismaClient,
    /** Constructed with maxRetries: 0, so every retry is this sender's decision. */
    private readonly api: Api,
    private readonly chats: TelegramChats,
    private readonly logger: Logger,
    private readonly options: TelegramSenderOptions,
  ) {
    this.batchSize = options.batchSize ?? 20;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.leaseMs = options.leaseMs ?? 60_000;
    this.baseBackoffMs = options.baseBackoffMs ?? 1_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 5 * 60_000;
    const metrics = options.metrics ?? new Metrics();
    this.sends = metrics.counter(
      'shop_telegram_sends_total',
      'Notifications the sender settled: sent, retry (a failed try, sent again later), failed (given up), skipped (no chat, or it blocked the bot)',
      ['outcome'],
    );
    this.rateLimits = metrics.counter('shop_telegram_rate_limited_total', 'Telegram 429 answers: the sender paused as told by retry_after');
    this.blockedChats = metrics.counter('shop_telegram_blocked_chats_total', 'Chats found to have blocked the bot (403): nothing more goes there until /start');
    // Through the (telegram_status, telegram_next_attempt_at) index: the pending rows only, at most 100,000 counted.
    metrics.collected('shop_telegram_messages_pending', 'Notifications waiting to be sent to Telegram (due now or retried later)', [], async (set) => {
      const [row] = await prisma.$queryRaw<{ count: number }[]>`
        SELECT count(*)::int AS "count" FROM (SELECT 1 FROM "notification"."notifications" WHERE "telegram_status" = 'PENDING' LIMIT 100000) AS p`;
      set({}, row?.count ?? 0);
    });
    this.worker = new PollingWorker({
      run: () => this.drain(),
      intervalMs: options.intervalMs,
      maxBackoffMs: 10_000,
      // Telegram said when to come back (429): not a round before that.
      notBefore: () => this.pausedUntil,
      onFailure: (error, failures) => {
        if (failures === 1) logger.warn({ err: error }, 'telegram sender failed (is the database reachable?); retrying');
      },
      onRecovery: () => logger.info('telegram sender works again'),
    });
  }

  private get running(): boolean {
    return this.worker.running;
  }

  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.worker.start();
  }

  /** Look soon: call after new notifications have committed. Kicks coalesce. */
  kick(): void {
    this.worker.kick();
  }

  /** Stops looking, cuts the sends in flight short (those messages stay pending) and waits for every lane to settle. */
  async stop(): Promise<void> {
    const stopped = this.worker.stop();
    this.abort.abort();
    await stopped;
    await Promise.all(this.runners);
  }

  /**
   * Claims every due message, batch by batch, into per-user lanes: up to `concurrency` users are sent to
   * at once, each user's messages in order. A claim waits for a free lane, not for a whole batch, so one
   * slow chat never holds back the others. Resolves to how many it claimed (lanes may still be sending).
   */
  private async drain(): Promise<number> {
    let total = 0;
    while (this.running && Date.now() >= this.pausedUntil) {
      if (this.lanes.size >= this.concurrency && this.runners.size > 0) {
        await Promise.race(this.runners);
        continue;
      }
      const claimed = await this.claim();
      if (claimed.length > 0) await this.enqueue(claimed);
      total += claimed.length;
      if (claimed.length < this.batchSize) break;
    }
    return total;
  }

  /** Takes up to a batch of due messages for this process: rows another process holds are skipped, not waited for. */
  private async claim(): Promise<Claimed[]> {
    const rows = await claimDue<Claimed>(this.prisma, {
      table: TABLE,
      due: Prisma.sql`telegram_status = 'PENDING' AND (telegram_next_attempt_at IS NULL OR telegram_next_attempt_at <= now())`,
      orderBy: Prisma.sql`telegram_next_attempt_at NULLS FIRST, created_at`,
      limit: this.batchSize,
      set: Prisma.sql`telegram_next_attempt_at = now() + make_interval(secs => ${this.leaseMs / 1000}::float8)`,
      returning: Prisma.sql`id::text AS id, user_id::text AS user_id, kind::text AS kind, title, body,
                            order_id::text AS order_id, telegram_attempts AS attempts, created_at, request_id, traceparent`,
    });
    return rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || a.id.localeCompare(b.id));
  }

  /** Appends each claimed message to its user's lane (a new lane where the user has none) and starts senders for waiting lanes. */
  private async enqueue(claimed: Claimed[]): Promise<void> {
    // Every user's chat, also of users with a lane now: their lane may have ended by the time this answers.
    const chats = await this.prisma.telegramChat.findMany({ where: { userId: { in: [...new Set(claimed.map((row) => row.user_id))] } } });
    const chatOf = new Map(chats.map((chat) => [chat.userId, chat]));
    for (const row of claimed) {
      const lane = this.lanes.get(row.user_id);
      if (lane) lane.rows.push(row);
      else {
        const added: Lane = { userId: row.user_id, rows: [row], chat: chatOf.get(row.user_id) };
        this.lanes.set(row.user_id, added);
        this.waiting.push(added);
      }
    }
    while (this.activeRunners < this.concurrency && this.waiting.length > 0) {
      this.activeRunners += 1;
      const runner: Promise<void> = this.runLanes().finally(() => this.runners.delete(runner));
      this.runners.add(runner);
    }
  }

  /**
   * One sender: takes waiting lanes one at a time and sends each until it is empty. It counts itself out
   * in the same tick it finds nothing waiting, so a lane enqueued a moment later always gets a sender.
   */
  private async runLanes(): Promise<void> {
    for (;;) {
      const lane = this.waiting.shift();
      if (!lane) {
        this.activeRunners -= 1;
        return;
      }
      try {
        await this.sendLane(lane);
      } catch (error) {
        // Its unsent messages stay claimed until their lease runs out, then go again.
        this.lanes.delete(lane.userId);
        this.logger.warn({ err: error, userId: lane.userId }, 'sending to a telegram chat failed; its messages go again after their lease');
      }
    }
  }

  /**
   * One user's messages, in order, until the lane is empty; rows claimed meanwhile join its end. The lane
   * leaves `lanes` in the same tick it is found empty (or paused), so a claim never joins a lane that has ended.
   */
  private async sendLane(lane: Lane): Promise<void> {
    for (;;) {
      const row = lane.rows.shift();
      if (!row) {
        this.lanes.delete(lane.userId);
        return;
      }
      if (!this.running || Date.now() < this.pausedUntil) {
        // Stopping, or Telegram asked us to wait: the rest go back, due when the pause ends.
        this.lanes.delete(lane.userId);
        await this.putBack([row, ...lane.rows.splice(0)].map((r) => r.id), new Date(Math.max(Date.now(), this.pausedUntil)));
        return;
      }
      const outcome = await continueTrace({ requestId: row.request_id, traceparent: row.traceparent }, 'send telegram message', { attributes: { 'notification.id': row.id } }, () =>
        this.deliver(row, lane.chat),
      );
      if (lane.chat && outcome.status === 'FAILED' && outcome.chatBlocked) lane.chat = { ...lane.chat, blockedAt: new Date() };
      await this.settle(row, outcome);
    }
  }

  private async deliver(row: Claimed, chat: TelegramChat | undefined): Promise<Outcome> {
    if (!chat) return { status: 'SKIPPED', error: 'no Telegram chat is linked', attempted: false };
    if (chat.blockedAt) return { status: 'SKIPPED', error: 'the chat blocked the bot', attempted: false };
    const buttons = row.kind === 'ORDER_CONFIRMATION_REQUESTED' && row.order_id ? { reply_markup: OrderButtons.markup(row.order_id) } : {};
    try {
      const message = await this.api.sendMessage({ chat_id: Number(chat.chatId), text: telegramText(row), ...buttons }, this.abort.signal);
      return { status: 'SENT', messageId: message.message_id };
    } catch (error) {
      return this.failure(error, row, chat);
    }
  }

  private async failure(error: unknown, row: Claimed, chat: TelegramChat): Promise<Outcome> {
    if (error instanceof TelegramApiError) {
      if (error.errorCode === 429) {
        const waitMs = Math.max(1, error.retryAfter ?? 1) * 1000;
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + waitMs);
        this.logger.warn({ retryAfterSeconds: waitMs / 1000 }, 'telegram rate limit: sending pauses as told');
        this.rateLimits.inc();
        return { status: 'RETRY', at: new Date(Date.now() + waitMs), error: error.message, attempted: false };
      }
      if (error.errorCode === 403) {
        await this.chats.markBlocked(chat.chatId);
        this.blockedChats.inc();
        this.logger.info({ userId: row.user_id }, 'the chat blocked the bot: nothing more is sent there until /start');
        return { status: 'FAILED', error: error.message, attempted: true, chatBlocked: true };
      }
      // Another 4xx (chat not found, a bad request) will not get better by trying again.
      if (error.errorCode < 500) return { status: 'FAILED', error: error.message, attempted: true };
    }
    const message = error instanceof Error ? error.message : String(error);
    if (!this.running) return { status: 'RETRY', at: new Date(), error: message, attempted: false };
    const attempts = row.attempts + 1;
    if (attempts >= this.options.maxAttempts) {
      this.logger.warn({ notificationId: row.id, attempts, err: message }, 'giving up on a telegram message');
      return { status: 'FAILED', error: message, attempted: true };
    }
    const backoff = Math.min(this.baseBackoffMs * 2 ** (attempts - 1), this.maxBackoffMs) * (0.8 + Math.random() * 0.4);
    return { status: 'RETRY', at: new Date(Date.now() + backoff), error: message, attempted: true };
  }

  private async settle(row: Claimed, outcome: Outcome): Promise<void> {
    this.sends.inc({ outcome: outcome.status.toLowerCase() });
    const attempts = outcome.status === 'SENT' || outcome.attempted ? row.attempts + 1 : row.attempts;
    const data =
      outcome.status === 'SENT'
        ? {
            telegramStatus: 'SENT' as const,
            deliveredToTelegramAt: new Date(),
            telegramMessageId: BigInt(outcome.messageId),
            telegramError: null,
            telegramNextAttemptAt: null,
          }
        : outcome.status === 'RETRY'
          ? { telegramNextAttemptAt: outcome.at, telegramError: outcome.error }
          : { telegramStatus: outcome.status, telegramError: outcome.error, telegramNextAttemptAt: null };
    const record = () => this.prisma.notification.updateMany({ where: { id: row.id, telegramStatus: 'PENDING' }, data: { ...data, telegramAttempts: attempts } });
    if (outcome.status !== 'SENT') {
      await record();
      return;
    }
    // Telegram has the message: unrecorded, it would go again once its lease runs out (a second copy in
    // the chat). A lost connection (terminated, a failover) is worth waiting out, well within the lease.
    const deadline = Date.now() + this.leaseMs / 2;
    for (let attempt = 1; ; attempt++) {
      try {
        await record();
        return;
      } catch (error) {
        if (Date.now() >= deadline) throw error;
        this.logger.warn({ err: error, notificationId: row.id, attempt }, 'recording a sent telegram message failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 2000)));
      }
    }
  }

  private async putBack(ids: string[], at: Date): Promise<void> {
    await this.prisma.notification.updateMany({ where: { id: { in: ids }, telegramStatus: 'PENDING' }, data: { telegramNextAttemptAt: at } });
  }
}
