import type { PrismaClient, Tx } from '../../../kernel/src/prisma';
import type { Logger } from '../../../kernel/src/logger';
import type { EventEnvelope, OrderEvent } from '../../../kernel/src/events/envelope';
import { isUuid } from '../../../kernel/src/ids';
import { newOrdersSummary } from './messages';
import type { NotificationService } from './notifications';

/** Summaries leave within about this long of being due. */
const FLUSH_INTERVAL_MS = 1000;
/** A summary waits until no order has joined its window for this long (capped by the window), so a backlog of a past window is one summary, not one per flush. */
const SETTLE_MS = 5000;
const FLUSH_BATCH = 100;
/** A window fully told is forgotten a day after it ended (an order event that late is told on its own). */
const FORGET_AFTER = '1 day';

interface DueWindow {
  admin_id: string;
  starts_at: Date;
  ends_at: Date;
  untold: number;
  first_number: string;
  last_number: string;
}

/**
 * Keeps a flood of orders from becoming a flood of admin notifications. Time is cut into fixed
 * windows of `windowMs` (by when the order was placed, so a redelivered or late event lands in the
 * same window): per admin, the first new order of a window is told at once; the rest are counted
 * and told in one NEW_ORDERS_SUMMARY once the window has passed and no order has joined it for a
 * few seconds. So two "new order" notifications per admin per window, whatever the rate (a third
 * only for an order event that arrives after its window's summary went out). The counts live in
 * PostgreSQL, changed in the event's own transaction (so once per event id) and claimed row by row
 * for summaries (so several processes never summarize one window twice). A window of 0 tells every order.
 */
export class NewOrderDigest {
  private timer?: NodeJS.Timeout;
  private current: Promise<unknown> = Promise.resolve();
  private running = false;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly notifications: NotificationService,
    private readonly logger: Logger,
    private readonly windowMs: number,
  ) {}

  /** In the OrderPlaced event's transaction: counts the order in each admin's window; returns the admins to tell of it now. */
  async tellAtOnce(tx: Tx, event: EventEnvelope<OrderEvent>, adminIds: readonly string[]): Promise<string[]> {
    if (this.windowMs === 0 || adminIds.length === 0) return [...adminIds];
    const placedAt = Date.parse(event.occurredAt);
    const at = Number.isNaN(placedAt) ? Date.now() : placedAt;
    const startsAt = new Date(Math.floor(at / this.windowMs) * this.windowMs).toISOString();
    const endsAt = new Date(Date.parse(startsAt) + this.windowMs).toISOString();
    const settleMs = Math.min(SETTLE_MS, this.windowMs);
    const number = event.payload.number;
    // Sorted, so concurrent events lock the same admins' rows in the same order.
    const admins = [...new Set(adminIds.filter(isUuid))].sort();
    const rows = await tx.$queryRaw<Array<{ admin_id: string; orders: number }>>`
      INSERT INTO "notification"."new_order_windows" (admin_id, starts_at, ends_at, due_at, first_number, last_number)
      SELECT admin_id, ${startsAt}::timestamptz, ${endsAt}::timestamptz,
             GREATEST(${endsAt}::timestamptz, now() + make_interval(secs => ${settleMs / 1000}::float8)), ${number}, ${number}
      FROM unnest(${admins}::uuid[]) AS admin_id
      ON CONFLICT (admin_id, starts_at) DO UPDATE
        SET orders = "new_order_windows".orders + 1, last_number = EXCLUDED.last_number, due_at = EXCLUDED.due_at
      RETURNING admin_id::text AS admin_id, orders`;
    return rows.filter((row) => row.orders === 1).map((row) => row.admin_id);
  }

  /** Runs with a window of 0 too: windows counted before the setting changed are still summarized. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.current;
  }

  /** Summarizes every window that has passed with orders not yet told; resolves to how many summaries it wrote. */
  async flush(): Promise<number> {
    let total = 0;
    for (;;) {
      let claimed = 0;
      await this.notifications.record(async (tx) => {
        const drafts = await this.claimDue(tx);
        claimed = drafts.length;
        return drafts;
      });
      total += claimed;
      if (claimed < FLUSH_BATCH) return total;
    }
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      const run = this.flush()
        .then(() => this.forgetOld())
        .catch((error: unknown) => this.logger.warn({ err: error }, 'could not send the new-order summaries; retrying'));
      this.current = run.finally(() => {
        if (this.running) this.schedule();
      });
    }, FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /** Marks the untold orders of passed windows told, skipping rows another process holds; one summary draft per window. */
  private async claimDue(tx: Tx) {
    const due = await tx.$queryRaw<DueWindow[]>`
      WITH due AS (
        SELECT admin_id, starts_at, told FROM "notification"."new_order_windows"
        WHERE due_at <= now() AND orders > told
        ORDER BY due_at
        LIMIT ${FLUSH_BATCH}
        FOR UPDATE SKIP LOCKED
      )
      UPDATE "notification"."new_order_windows" AS w SET told = w.orders
      FROM due WHERE w.admin_id = due.admin_id AND w.starts_at = due.starts_at
      RETURNING w.admin_id::text AS admin_id, w.starts_at, w.ends_at, w.orders - due.told AS untold, w.first_number, w.last_number`;
    return due.map((row) =>
      newOrdersSummary({
        adminId: row.admin_id,
        startsAt: row.starts_at,
        endsAt: row.ends_at,
        untold: Number(row.untold),
        firstNumber: row.first_number,
        lastNumber: row.last_number,
      }),
    );
  }

  private async forgetOld(): Promise<void> {
    await this.prisma.$executeRaw`DELETE FROM "notification"."new_order_windows" WHERE ends_at < now() - ${FORGET_AFTER}::interval AND orders = told`;
  }
}
