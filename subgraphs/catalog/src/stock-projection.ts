import { PREPARED, type PrismaClient, type Tx } from '../../../kernel/src/prisma';
import type { Redis } from '../../../kernel/src/redis';
import type { Logger } from '../../../kernel/src/logger';
import type { Metrics } from '../../../kernel/src/metrics';
import { setTimeout as sleep } from 'node:timers/promises';
import { StreamSubscriber } from '../../../kernel/src/events/consumer';
import { SubgraphUnavailable } from '../../../kernel/src/subgraph-client';
import type { InventoryClient, InventoryItemState } from './inventory-client';
import { processOnce } from '../../../kernel/src/events/idempotency';
import { isEvent, type EventEnvelope } from '../../../kernel/src/events/envelope';
import type { ProductChangeListener } from './product-changes';

const CONSUMER_GROUP = 'catalog-stock-projection';
const PAGE_SIZE = 500;
/** Services start side by side: the first resync waits this long for the inventory to answer before it warns. */
const FIRST_RESYNC_PATIENCE_MS = 60_000;

/**
 * Keeps `Product.inStock` in line with the inventory: from its StockChanged events (durable stream,
 * at least once, deduplicated by event id, stale versions dropped), and by a full resync from the
 * inventory at start and every so often, which repairs whatever a lost event left behind.
 */
export class StockProjection extends StreamSubscriber {
  private resyncTimer?: NodeJS.Timeout;
  private resyncing?: Promise<void>;
  private stopping = new AbortController();

  constructor(
    private readonly prisma: PrismaClient,
    redis: Redis,
    keyPrefix: string,
    private readonly inventory: InventoryClient,
    private readonly logger: Logger,
    private readonly resyncIntervalMs: number,
    /** Told when a product's `inStock` flips (after the commit), so gateways evict what they cached of it. */
    private readonly changed: ProductChangeListener = async () => {},
    metrics?: Metrics,
  ) {
    super({ redis, keyPrefix, logger, metrics, service: 'catalog', stream: 'inventory', group: CONSUMER_GROUP });
  }

  override start(): void {
    super.start();
    this.stopping = new AbortController();
    this.startResync(FIRST_RESYNC_PATIENCE_MS);
    this.resyncTimer = setInterval(() => this.startResync(), this.resyncIntervalMs);
  }

  /** One resync at a time: a tick that finds the last one still running skips; each clears itself when done, so the next tick runs. */
  private startResync(patienceMs = 0): void {
    this.resyncing ??= this.resyncSafely(patienceMs).finally(() => (this.resyncing = undefined));
  }

  override async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    this.stopping.abort();
    await super.stop();
    await this.resyncing;
  }

  protected async handle(event: EventEnvelope): Promise<void> {
    if (!isEvent(event, 'StockChanged')) return;
    const { productId, available, version } = event.payload;
    let flipped = false;
    await processOnce(this.prisma, 'catalog', CONSUMER_GROUP, event.id, async (tx) => {
      flipped = await this.apply(tx, productId, available > 0, BigInt(version));
    });
    if (flipped) await this.changed(productId);
  }

  /**
   * A read's StockChanged events in one statement (no transaction round trips): each event recorded
   * once per consumer as processOnce does, each product set from its newest new event if that is newer
   * than the projection. The products whose `inStock` flipped are told after it.
   */
  protected override async handleBatch(events: EventEnvelope[]): Promise<void> {
    const stock = new Map<string, { productId: string; inStock: boolean; version: string }>();
    for (const event of events) {
      if (isEvent(event, 'StockChanged')) stock.set(event.id, { productId: event.payload.productId, inStock: event.payload.available > 0, version: String(event.payload.version) });
    }
    if (stock.size === 0) return;
    const rows = [...stock.values()];
    const updated = await this.prisma.$queryRaw<Array<{ productId: string; flipped: boolean }>>`${PREPARED}
      WITH "incoming" AS (
        SELECT * FROM unnest(${[...stock.keys()]}::uuid[], ${rows.map((row) => row.productId)}::uuid[], ${rows.map((row) => row.inStock)}::boolean[], ${rows.map((row) => row.version)}::bigint[])
          AS e("event_id", "product_id", "in_stock", "version")
      ), "fresh" AS (
        INSERT INTO "catalog"."processed_events" ("consumer", "event_id")
        SELECT ${CONSUMER_GROUP}, "event_id" FROM "incoming" ON CONFLICT DO NOTHING RETURNING "event_id"
      ), "newest" AS (
        SELECT DISTINCT ON ("product_id") "product_id", "in_stock", "version"
        FROM "incoming" JOIN "fresh" USING ("event_id") ORDER BY "product_id", "version" DESC
      ), "old" AS (
        SELECT p."id", p."in_stock" FROM "catalog"."products" AS p JOIN "newest" AS n ON n."product_id" = p."id" ORDER BY p."id" FOR UPDATE OF p
      )
      UPDATE "catalog"."products" AS p SET "in_stock" = n."in_stock", "stock_version" = n."version"
      FROM "newest" AS n JOIN "old" ON "old"."id" = n."product_id"
      WHERE p."id" = n."product_id" AND p."stock_version" < n."version"
      RETURNING p."id"::text AS "productId", "old"."in_stock" <> n."in_stock" AS "flipped"`;
    for (const row of updated) if (row.flipped) await this.changed(row.productId);
  }

  /**
   * Only a newer version wins: events may arrive out of order or twice (versions keep increasing across
   * a delete and recreate). True when `inStock` changed.
   */
  private async apply(tx: Tx | PrismaClient, productId: string, inStock: boolean, version: bigint): Promise<boolean> {
    const rows = await tx.$queryRaw<{ wasInStock: boolean }[]>`
      UPDATE "catalog"."products" AS p SET "in_stock" = ${inStock}, "stock_version" = ${version}
      FROM (SELECT "id", "in_stock" FROM "catalog"."products" WHERE "id" = ${productId}::uuid FOR UPDATE) AS old
      WHERE p."id" = old."id" AND p."stock_version" < ${version}
      RETURNING old."in_stock" AS "wasInStock"`;
    return rows.length > 0 && rows[0]!.wasInStock !== inStock;
  }

  /** Reads every inventory item, page by page, and applies what is newer than the projection. */
  async resync(): Promise<number> {
    let after: string | null = null;
    let seen = 0;
    for (;;) {
      const page = await this.fetchItems(after);
      for (const item of page) {
        if (await this.apply(this.prisma, item.productId, item.available > 0, BigInt(item.version))) await this.changed(item.productId);
      }
      seen += page.length;
      if (page.length < PAGE_SIZE) return seen;
      after = page.at(-1)!.productId;
    }
  }

  /** A resync that logs instead of throwing; while the inventory does not answer, it retries quietly for up to `patienceMs`. */
  private async resyncSafely(patienceMs: number): Promise<void> {
    const giveUpAt = Date.now() + patienceMs;
    for (let retryInMs = 250; ; retryInMs = Math.min(retryInMs * 2, 5_000)) {
      try {
        const items = await this.resync();
        this.logger.debug({ items }, 'stock projection resynced from the inventory');
        return;
      } catch (error) {
        const message = error instanceof Error ? error.message : error;
        if (error instanceof SubgraphUnavailable && Date.now() + retryInMs < giveUpAt && !this.stopping.signal.aborted) {
          this.logger.debug({ err: message }, 'the inventory does not answer yet; the stock resync retries');
          try {
            await sleep(retryInMs, undefined, { signal: this.stopping.signal });
          } catch {
            return; // stopped meanwhile
          }
          continue;
        }
        this.logger.warn({ err: message }, 'stock resync failed; the event stream still applies, next resync retries');
        return;
      }
    }
  }

  private fetchItems(after: string | null): Promise<InventoryItemState[]> {
    return this.inventory.items(PAGE_SIZE, after);
  }
}
