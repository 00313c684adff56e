import type { Redis } from '../../../kernel/src/redis';
import type { Logger } from '../../../kernel/src/logger';
import type { Metrics } from '../../../kernel/src/metrics';
import { StreamSubscriber } from '../../../kernel/src/events/consumer';
import { isEvent, type EventEnvelope, type StockChanged } from '../../../kernel/src/events/envelope';
import { lowStock } from './messages';
import type { NotificationService } from './notifications';

export const STOCK_ALERTS_GROUP = 'notification-stock';

/**
 * Whether a StockChanged crosses its product's threshold from above. Per product it keeps the last
 * version seen (versions increase per product, also across a delete and recreate of its item),
 * whether that one was low, and which event (if any) crossed at that version:
 *   an event older than the last version seen changes nothing and alerts nobody (it arrived late);
 *   the same version again (a redelivery) gets the answer it got the first time;
 *   a newer one is recorded, and crosses when it is low and the last one seen was not (or none was).
 * KEYS[1] = the hash; ARGV = product id, version, low (1/0), event id. Returns 1 for a crossing.
 */
const CROSSED_DOWN_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local version = tonumber(ARGV[2])
local wasLow = '0'
if current then
  local v, low, by = string.match(current, '^(%d+):([01]):(.*)$')
  if v then
    v = tonumber(v)
    if v > version then return 0 end
    if v == version then
      if by == ARGV[4] then return 1 end
      return 0
    end
    wasLow = low
  end
end
local crossed = ARGV[3] == '1' and wasLow == '0'
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3] .. ':' .. (crossed and ARGV[4] or ''))
if crossed then return 1 end
return 0
`;

/**
 * Admins hear when a product's available stock falls to or under its lowStockThreshold: once per
 * fall, not for every further decrease while it stays low; after it rises above, the next fall
 * alerts again. A product first seen already low counts as a fall.
 */
export class LowStockAlerts extends StreamSubscriber {
  private readonly levelsKey: string;

  constructor(
    private readonly redis: Redis,
    keyPrefix: string,
    private readonly notifications: NotificationService,
    private readonly admins: { adminUserIds(): Promise<string[]> },
    logger: Logger,
    metrics?: Metrics,
  ) {
    super({ redis, keyPrefix, logger, metrics, service: 'notification', stream: 'inventory', group: STOCK_ALERTS_GROUP });
    this.levelsKey = `${keyPrefix}notification:stock-levels`;
  }

  protected async handle(event: EventEnvelope): Promise<void> {
    if (!isEvent(event, 'StockChanged')) return;
    const stock = event.payload;
    const low = stock.available <= stock.lowStockThreshold;
    // Asked before the level is recorded: if auth is down, the event is retried with its mark unchanged.
    const admins = low ? await this.admins.adminUserIds() : [];
    if (!(await this.crossedDown(stock, low, event.id)) || admins.length === 0) return;
    await this.notifications.recordFromEvent(STOCK_ALERTS_GROUP, event.id, admins.map((adminId) => lowStock(stock, adminId)));
  }

  private async crossedDown(stock: StockChanged, low: boolean, eventId: string): Promise<boolean> {
    const crossed = await this.redis.eval(CROSSED_DOWN_SCRIPT, 1, this.levelsKey, stock.productId, stock.version, low ? 1 : 0, eventId);
    return crossed === 1;
  }
}
