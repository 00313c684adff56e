/**
 * What must hold once the load has stopped and the shop has settled, read from the databases, Redis,
 * the fake Bot API and the subscribers themselves.
 */
import pg from 'pg';
import Redis from 'ioredis';
import type { FakeTelegram } from '../../test/support/fake-telegram';
import { pgConfig } from '../bench/harness';
import type { LoadRecord } from './load';

/** How long after its deadline an unconfirmed order may still be waiting for the order service's worker (every 500 ms). */
const EXPIRY_GRACE_SECONDS = 5;

export interface Invariant {
  name: string;
  ok: boolean;
  /** What was checked, in numbers. */
  detail: string;
  /** The first few violations. */
  violations: string[];
}

/** How long a stream entry may stay pending before a consumer claims it again (StreamConsumer's claimIdleMs). */
export const RECLAIM_IDLE_MS = 30_000;

const orderNumber = (seq: string | number) => `SO-${String(seq).padStart(6, '0')}`;

function invariant(name: string, violations: string[], detail: string): Invariant {
  return { name, ok: violations.length === 0, detail, violations: violations.slice(0, 10) };
}

/** What the shop still has in flight: nothing, once it has settled. */
export async function inFlight(databaseUrl: string, redisUrl: string, keyPrefix: string): Promise<string[]> {
  const client = new pg.Client(pgConfig(databaseUrl));
  await client.connect();
  const open: string[] = [];
  try {
    const { rows } = await client.query<{ what: string; count: number }>(`
      SELECT 'orders mid-saga' AS what, count(*)::int AS count FROM "order".orders WHERE saga_step <> 'NONE' OR status = 'PENDING'
      UNION ALL SELECT 'orders awaiting past their deadline', count(*)::int FROM "order".orders WHERE status = 'AWAITING_CONFIRMATION' AND confirmation_deadline <= now()
      UNION ALL SELECT 'unpublished order outbox rows', count(*)::int FROM "order".outbox_events WHERE published_at IS NULL
      UNION ALL SELECT 'unpublished inventory outbox rows', count(*)::int FROM inventory.outbox_events WHERE published_at IS NULL
      UNION ALL SELECT 'notifications waiting for Telegram', count(*)::int FROM notification.notifications WHERE telegram_status = 'PENDING'`);
    for (const row of rows) if (row.count > 0) open.push(`${row.count} ${row.what}`);
  } finally {
    await client.end();
  }
  for (const group of await streamGroups(redisUrl, keyPrefix)) {
    if (group.lag > 0) open.push(`${group.lag} entries of ${group.stream} not yet read by ${group.group}`);
    if (group.pending > 0) open.push(`${group.pending} entries of ${group.stream} pending in ${group.group}`);
  }
  return open;
}

interface GroupState {
  stream: string;
  group: string;
  lag: number;
  pending: number;
  /** Pending entries idle longer than RECLAIM_IDLE_MS. */
  stale: Array<{ id: string; idleMs: number; deliveries: number }>;
}

async function streamGroups(redisUrl: string, keyPrefix: string): Promise<GroupState[]> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000, 'TYPE', 'stream');
      keys.push(...found);
      cursor = next;
    } while (cursor !== '0');
    const states: GroupState[] = [];
    for (const key of keys.sort()) {
      const groups = (await redis.xinfo('GROUPS', key)) as unknown[][];
      for (const fields of groups) {
        const info: Record<string, unknown> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) info[String(fields[i])] = fields[i + 1];
        const group = String(info.name);
        const pendingEntries = (await redis.xpending(key, group, 'IDLE', RECLAIM_IDLE_MS, '-', '+', 100)) as Array<[string, string, number, number]>;
        states.push({
          stream: key.slice(keyPrefix.length),
          group,
          lag: typeof info.lag === 'number' ? info.lag : 0,
          pending: Number(info.pending ?? 0),
          stale: pendingEntries.map(([id, , idleMs, deliveries]) => ({ id, idleMs, deliveries })),
        });
      }
    }
    return states;
  } finally {
    redis.disconnect();
  }
}

export interface InvariantInput {
  databaseUrl: string;
  redisUrl: string;
  keyPrefix: string;
  telegram: FakeTelegram;
  load: LoadRecord;
  /** Initial stock of each product as the soak created it. */
  initialStock: Map<string, number>;
  /** Each product's `available` now, from the inventory: compared with what subscribers hold at the same moment. */
  readAvailable(): Promise<Map<string, number>>;
  /** Watchers that opened before this were open when the final change was made. */
  finalChangeAt: number;
}

/** The last few StockChanged events of a product as the inventory's outbox holds them: available@version (seq, published). */
async function publishedStock(databaseUrl: string, productId: string): Promise<string> {
  const client = new pg.Client(pgConfig(databaseUrl));
  await client.connect();
  try {
    const { rows } = await client.query<{ available: number; version: string; seq: string; published: string }>(
      `SELECT (payload->>'available')::int AS available, payload->>'version' AS version, seq::text, to_char(published_at, 'MI:SS.MS') AS published
         FROM inventory.outbox_events o WHERE o.payload->>'productId' = $1 ORDER BY o.seq DESC LIMIT 4`,
      [productId],
    );
    return rows.reverse().map((r) => `${r.available}@v${r.version}(seq ${r.seq}, ${r.published})`).join(' ');
  } finally {
    await client.end();
  }
}

export async function checkInvariants(input: InvariantInput): Promise<Invariant[]> {
  const client = new pg.Client(pgConfig(input.databaseUrl));
  await client.connect();
  const results: Invariant[] = [];
  try {
    // ---------- stock ----------
    const { rows: stock } = await client.query<{
      product_id: string;
      on_hand: number;
      reserved: number;
      supplied: number;
      created: number;
      sold: number;
      held: number;
      ordered_confirmed: number;
      ordered_awaiting: number;
      catalog_in_stock: boolean | null;
      search_in_stock: boolean | null;
    }>(`
      SELECT i.product_id::text, i.on_hand, i.reserved,
             COALESCE((SELECT sum(delta_on_hand) FROM inventory.stock_movements m WHERE m.product_id = i.product_id AND m.order_id IS NULL), 0)::int AS supplied,
             COALESCE((SELECT delta_on_hand FROM inventory.stock_movements m WHERE m.product_id = i.product_id AND m.order_id IS NULL ORDER BY created_at, id LIMIT 1), 0)::int AS created,
             COALESCE((SELECT sum(quantity) FROM inventory.reservations r WHERE r.product_id = i.product_id AND r.status = 'COMMITTED'), 0)::int AS sold,
             COALESCE((SELECT sum(quantity) FROM inventory.reservations r WHERE r.product_id = i.product_id AND r.status = 'RESERVED'), 0)::int AS held,
             COALESCE((SELECT sum(l.quantity) FROM "order".order_lines l JOIN "order".orders o ON o.id = l.order_id
                        WHERE l.product_id = i.product_id AND o.status IN ('CONFIRMED', 'FULFILLED')), 0)::int AS ordered_confirmed,
             COALESCE((SELECT sum(l.quantity) FROM "order".order_lines l JOIN "order".orders o ON o.id = l.order_id
                        WHERE l.product_id = i.product_id AND o.status = 'AWAITING_CONFIRMATION'), 0)::int AS ordered_awaiting,
             c.in_stock AS catalog_in_stock,
             (SELECT s.in_stock FROM catalog.product_search s WHERE s.id = i.product_id) AS search_in_stock
        FROM inventory.inventory_items i LEFT JOIN catalog.products c ON c.id = i.product_id
       ORDER BY i.product_id`);
    const { rows: movementReasons } = await client.query<{ reason: string; delta: number; count: number }>(
      `SELECT reason, delta_on_hand AS delta, count(*)::int AS count FROM inventory.stock_movements WHERE order_id IS NULL AND reason LIKE 'soak restock %' GROUP BY reason, delta_on_hand`,
    );
    const id = (productId: string) => productId.slice(0, 8);
    const oversold: string[] = [];
    const balance: string[] = [];
    const reserved: string[] = [];
    const inStock: string[] = [];
    let sold = 0;
    let supplied = 0;
    for (const row of stock) {
      const initial = input.initialStock.get(row.product_id);
      sold += row.sold;
      supplied += row.supplied;
      if (row.on_hand - row.reserved < 0 || row.reserved < 0) oversold.push(`${id(row.product_id)}: on-hand ${row.on_hand}, reserved ${row.reserved}`);
      if (row.sold > row.supplied) oversold.push(`${id(row.product_id)}: sold ${row.sold} > initial + adjustments ${row.supplied}`);
      if (initial !== undefined && row.created !== initial) balance.push(`${id(row.product_id)}: created with ${row.created}, the soak gave ${initial}`);
      if (row.on_hand + row.sold !== row.supplied) balance.push(`${id(row.product_id)}: on-hand ${row.on_hand} + sold ${row.sold} != initial + adjustments ${row.supplied}`);
      if (row.sold !== row.ordered_confirmed) balance.push(`${id(row.product_id)}: committed ${row.sold} != lines of confirmed orders ${row.ordered_confirmed}`);
      if (row.reserved !== row.held) reserved.push(`${id(row.product_id)}: reserved ${row.reserved} != RESERVED reservation lines ${row.held}`);
      if (row.held !== row.ordered_awaiting) reserved.push(`${id(row.product_id)}: reserved ${row.held} != lines of orders awaiting confirmation ${row.ordered_awaiting}`);
      const truth = row.on_hand - row.reserved > 0;
      if (row.catalog_in_stock !== truth) inStock.push(`${id(row.product_id)}: catalog inStock ${row.catalog_in_stock}, inventory available ${row.on_hand - row.reserved}`);
      if (row.search_in_stock !== null && row.search_in_stock !== truth) inStock.push(`${id(row.product_id)}: search inStock ${row.search_in_stock}, inventory available ${row.on_hand - row.reserved}`);
    }
    // Every adjustment the shop acknowledged was applied exactly once.
    const applied = new Map(movementReasons.map((row) => [row.reason, row]));
    for (const adjustment of input.load.adjustments) {
      const row = applied.get(adjustment.reason);
      if (!row || row.count !== 1 || row.delta !== adjustment.delta) balance.push(`adjustStock ${adjustment.delta} "${adjustment.reason}" acknowledged, applied ${row?.count ?? 0} times`);
    }
    results.push(invariant('no product oversold', oversold, `${stock.length} products, ${sold} units sold of ${supplied} supplied; available >= 0 and sold <= initial + adjustments for each`));
    results.push(invariant('on-hand + sold = initial + adjustments', balance, `${stock.length} products; ${input.load.adjustments.length} acknowledged adjustments each applied once; committed = lines of confirmed orders`));
    results.push(invariant('reserved = lines of orders awaiting confirmation', reserved, `${stock.reduce((sum, row) => sum + row.reserved, 0)} units reserved`));
    results.push(invariant('catalog inStock = inventory truth', inStock, `${stock.length} products (products and the search table)`));

    // ---------- orders ----------
    // The order service's worker expires unconfirmed orders every 500 ms: a deadline passed a moment ago is still its to take.
    const { rows: orders } = await client.query<{ status: string; saga_step: string; live: boolean | null; count: number; past: number | null }>(
      `SELECT status::text, saga_step::text, confirmation_deadline > now() - make_interval(secs => ${EXPIRY_GRACE_SECONDS}) AS live, count(*)::int AS count,
              round(max(extract(epoch FROM now() - confirmation_deadline))::numeric, 1)::float8 AS past
         FROM "order".orders GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    );
    const states: string[] = [];
    const stuck: string[] = [];
    const byStatus = new Map<string, number>();
    for (const row of orders) {
      byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + row.count);
      const terminal = ['CONFIRMED', 'FULFILLED', 'CANCELLED', 'FAILED'].includes(row.status);
      if (!terminal && !(row.status === 'AWAITING_CONFIRMATION' && row.live)) {
        states.push(`${row.count} orders ${row.status}${row.status === 'AWAITING_CONFIRMATION' ? ` past their deadline (by up to ${row.past} s)` : ''}`);
      }
      // An expiry that began a moment ago (its deadline within the grace) is in flight, not stuck.
      const expiring = row.status === 'AWAITING_CONFIRMATION' && row.saga_step === 'RELEASING' && row.live && (row.past ?? 0) >= 0;
      if (row.saga_step !== 'NONE' && !expiring) stuck.push(`${row.count} orders ${row.status} with saga step ${row.saga_step}`);
    }
    const statusLine = [...byStatus].map(([status, count]) => `${count} ${status}`).join(', ');
    results.push(invariant('every order terminal or awaiting with a live deadline', states, `${statusLine || 'no orders'} (a deadline passed under ${EXPIRY_GRACE_SECONDS} s ago counts as live: the worker looks every 500 ms)`));
    results.push(invariant('no saga stuck', stuck, `${[...byStatus.values()].reduce((a, b) => a + b, 0)} orders, none with a step in flight`));

    const { rows: outbox } = await client.query<{ schema: string; total: number; unpublished: number }>(`
      SELECT 'order' AS schema, count(*)::int AS total, count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished FROM "order".outbox_events
      UNION ALL SELECT 'inventory', count(*)::int, count(*) FILTER (WHERE published_at IS NULL)::int FROM inventory.outbox_events`);
    results.push(
      invariant(
        'every outbox row published',
        outbox.filter((row) => row.unpublished > 0).map((row) => `${row.unpublished} of ${row.total} ${row.schema} outbox rows unpublished`),
        outbox.map((row) => `${row.schema} ${row.total}`).join(', '),
      ),
    );

    // ---------- notifications ----------
    const { rows: confirmed } = await client.query<{ id: string; seq: string; user_id: string; chat_id: string | null; recorded: number; sent: number; state: string | null }>(`
      SELECT o.id::text, o.seq::text, o.user_id::text, c.chat_id::text AS chat_id,
             (SELECT count(*)::int FROM notification.notifications n WHERE n.order_id = o.id AND n.user_id = o.user_id AND n.kind = 'ORDER_STATUS_CHANGED' AND n.title LIKE '% is confirmed') AS recorded,
             (SELECT count(*)::int FROM notification.notifications n WHERE n.order_id = o.id AND n.user_id = o.user_id AND n.kind = 'ORDER_STATUS_CHANGED' AND n.title LIKE '% is confirmed' AND n.telegram_status = 'SENT') AS sent,
             (SELECT format('%s after %s attempts, next attempt %s, last error %s', n.telegram_status, n.telegram_attempts, COALESCE(to_char(n.telegram_next_attempt_at - n.created_at, 'MI:SS.MS') || ' after it was made', 'none'), COALESCE(n.telegram_error, 'none'))
                FROM notification.notifications n WHERE n.order_id = o.id AND n.user_id = o.user_id AND n.kind = 'ORDER_STATUS_CHANGED' AND n.title LIKE '% is confirmed' LIMIT 1) AS state
        FROM "order".orders o LEFT JOIN notification.telegram_chats c ON c.user_id = o.user_id
       WHERE o.status IN ('CONFIRMED', 'FULFILLED')`);
    const messagesByText = new Map<string, number[]>();
    for (const message of input.telegram.sentMessages) {
      const match = /Order (SO-\d+) is confirmed/.exec(message.text);
      if (match) messagesByText.set(match[1]!, [...(messagesByText.get(match[1]!) ?? []), Number(message.chat_id)]);
    }
    const notified: string[] = [];
    for (const order of confirmed) {
      const number = orderNumber(order.seq);
      const chats = messagesByText.get(number) ?? [];
      if (order.recorded !== 1) notified.push(`${number}: ${order.recorded} confirmation notifications recorded`);
      else if (order.sent !== 1) notified.push(`${number}: its confirmation notification was not sent to Telegram (${order.state})`);
      if (chats.length !== 1) notified.push(`${number}: the bot sent "is confirmed" ${chats.length} times`);
      else if (order.chat_id !== null && String(chats[0]) !== order.chat_id) notified.push(`${number}: told in chat ${chats[0]}, the owner's is ${order.chat_id}`);
    }
    results.push(invariant('every confirmed order notified to its owner exactly once', notified, `${confirmed.length} confirmed orders: notification records and the Bot API's sent messages`));
  } finally {
    await client.end();
  }

  // ---------- streams ----------
  const groups = await streamGroups(input.redisUrl, input.keyPrefix);
  const stale = groups.flatMap((g) => g.stale.map((e) => `${g.stream}/${g.group} ${e.id} idle ${Math.round(e.idleMs / 1000)} s, delivered ${e.deliveries} times`));
  results.push(
    invariant(
      `no stream entry pending past its reclaim time (${RECLAIM_IDLE_MS / 1000} s)`,
      stale,
      `${groups.length} consumer groups: ${groups.map((g) => `${g.stream}/${g.group} pending ${g.pending}`).join(', ')}`,
    ),
  );

  // ---------- subscribers ----------
  const stayed = input.load.watchers.filter((w) => w.closedAt === undefined && w.openedAt < input.finalChangeAt);
  // The truth and what the subscribers hold, compared at one moment: an order passing its deadline while the
  // other checks run gives its stock back, and its StockChanged reaches them a moment later (bounded wait).
  let truth = await input.readAvailable();
  const wrong = () => stayed.some((w) => w.productIds.some((id) => w.last.get(id) !== truth.get(id)));
  for (const deadline = Date.now() + 15_000; wrong() && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    truth = await input.readAvailable();
  }
  const missed: string[] = [];
  for (const watcher of stayed) {
    for (const productId of watcher.productIds) {
      const expected = truth.get(productId);
      const got = watcher.last.get(productId);
      if (got === expected) continue;
      const recent = watcher.recent.filter((u) => u.productId === productId).map((u) => `${u.available}@${new Date(u.at).toISOString().slice(14, 23)}`);
      missed.push(`subscriber ${watcher.id} (opened ${new Date(watcher.openedAt).toISOString().slice(14, 23)}, ${watcher.received} updates): ${productId.slice(0, 8)} last ${got ?? 'none'}, final ${expected}; its last updates ${recent.join(' ')}; published ${await publishedStock(input.databaseUrl, productId)}`);
    }
  }
  const closed = input.load.watchers.filter((w) => w.closedAt !== undefined);
  const reasons = new Map<string, number>();
  for (const w of closed) reasons.set(w.closeReason ?? '?', (reasons.get(w.closeReason ?? '?') ?? 0) + 1);
  results.push(
    invariant(
      'every subscriber that stayed connected got the last stock value',
      missed,
      `${stayed.length} stayed connected, ${missed.length ? `${missed.length} wrong` : 'all right'}; ${closed.length} were cut off (${[...reasons].map(([r, n]) => `${n} ${r}`).join(', ') || 'none'}) and replaced`,
    ),
  );
  return results;
}
