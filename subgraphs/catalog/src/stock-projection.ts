import type { PrismaClient, Tx } from '../../../kernel/src/prisma';
import type { Redis } from '../../../kernel/src/redis';
import type { Logger } from '../../../kernel/src/logger';
import type { Metrics } from '../../../kernel/src/metrics';
import { StreamSubscriber } from '../../../kernel/src/events/consumer';
import type { InventoryClient, InventoryItemState } from './inventory-client';
import { processOnce } from '../../../kernel/src/events/idempotency';
import { isEvent, type EventEnvelope } from '../../../kernel/src/events/envelope';
import type { ProductChangeListener } from './product-changes';

const CONSUMER_GROUP = 'catalog-stock-projection';
const PAGE_SIZE = 500;

/**
 * Keeps `Product.inStock` in line with the inventory: from its StockChanged events (durable stream,
 * at least once, deduplicated by event id, stale versions dropped), and by a full resync from the
 * inventory at start and every so often, which repairs whatever a lost event left behind.
 */
export class StockProjection extends StreamSubscriber {
  private resyncTimer?: NodeJS.Timeout;
  private resyncing?: Promise<void>;

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
    this.startResync();
    this.resyncTimer = setInterval(() => this.startResync(), this.resyncIntervalMs);
  }

  /** One resync at a time: a tick that finds the last one still running skips; each clears itself when done, so the next tick runs. */
  private startResync(): void {
    this.resyncing ??= this.resyncSafely().finally(() => (this.resyncing = undefined));
  }

  override async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
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

  private async resyncSafely(): Promise<void> {
    try {
      const items = await this.resync();
      this.logger.debug({ items }, 'stock projection resynced from the inventory');
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : error }, 'stock resync failed; the event stream still applies, next resync retries');
    }
  }

  private fetchItems(after: string | null): Promise<InventoryItemState[]> {
    return this.inventory.items(PAGE_SIZE, after);
  }
}
