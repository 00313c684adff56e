/**
 * The soak's load: anonymous browsing and searching, people logging in through the bot, customers
 * placing orders and confirming (by the API or by the Telegram button) or cancelling them, admins
 * adjusting stock, and graphql-ws subscribers watching stock. Every loop runs until `stop()`.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import type { FakeTelegram } from '../../test/support/fake-telegram';
import type { Traffic } from './client';
import { logIn, type Person } from './people';

export interface Product {
  id: string;
  name: string;
  category: string;
}

export interface LoadOptions {
  gatewayUrl: string;
  traffic: Traffic;
  telegram: FakeTelegram;
  products: Product[];
  customers: Person[];
  admin: Person;
  browsers: number;
  subscribers: number;
  /** New people logging in during the load, at most. */
  newcomers: number;
}

/** What the load did that the invariants check afterwards. */
export interface LoadRecord {
  ordersPlaced: number;
  confirmedByApi: number;
  confirmedByButton: number;
  cancelled: number;
  leftAwaiting: number;
  /** Orders whose confirmation was asked in Telegram but the ask did not come in time (the API confirmed them). */
  buttonFallbacks: number;
  /** Every adjustStock the shop acknowledged: its reason (unique) and delta. */
  adjustments: Array<{ productId: string; delta: number; reason: string }>;
  logins: number;
  watchers: Watcher[];
}

export interface Watcher {
  id: number;
  productIds: string[];
  openedAt: number;
  closedAt?: number;
  closeReason?: string;
  /** The last `available` it was sent per product. */
  last: Map<string, number>;
  /** The last few updates it was sent, oldest first, for a report when its last value is wrong. */
  recent: Array<{ productId: string; available: number; at: number }>;
  received: number;
  client: Client;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;
const between = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1));

const SEARCH = `query SoakSearch($search: String, $category: String, $inStock: Boolean, $sort: ProductSort) {
  products(filter: { search: $search, category: $category, inStock: $inStock }, sort: $sort, first: 10) {
    totalCount edges { node { id name inStock price { amount currency } } } pageInfo { hasNextPage endCursor }
  }
}`;
const PRODUCT = `query SoakProduct($id: ID!) { product(id: $id) { id name inStock price { amount } stock { available } } }`;
const PLACE = `mutation SoakPlace($input: PlaceOrderInput!) { placeOrder(input: $input) { id number status } }`;
const CONFIRM = `mutation SoakConfirm($id: ID!) { confirmOrder(id: $id) { id status } }`;
const CANCEL = `mutation SoakCancel($id: ID!) { cancelOrder(id: $id) { id status } }`;
const ORDER = `query SoakOrder($id: ID!) { order(id: $id) { id status } }`;
const ADJUST = `mutation SoakAdjust($productId: ID!, $delta: Int!, $reason: String!) { adjustStock(productId: $productId, delta: $delta, reason: $reason) { productId available } }`;
export const STOCK_UPDATED = `subscription SoakStock($ids: [ID!]) { stockUpdated(productIds: $ids) { productId available } }`;

const WORDS = ['kettle', 'lamp', 'chair', 'headphones', 'mug', 'blender', 'speaker', 'desk', 'wireles', 'stel', 'coffee'];

export class Load {
  readonly record: LoadRecord = {
    ordersPlaced: 0,
    confirmedByApi: 0,
    confirmedByButton: 0,
    cancelled: 0,
    leftAwaiting: 0,
    buttonFallbacks: 0,
    adjustments: [],
    logins: 0,
    watchers: [],
  };
  private running = true;
  private loops: Promise<void>[] = [];
  private nextWatcher = 0;

  constructor(private readonly options: LoadOptions) {}

  start(): void {
    const { customers, browsers, subscribers } = this.options;
    for (let i = 0; i < browsers; i++) this.loops.push(this.browse());
    for (const customer of customers) this.loops.push(this.shop(customer));
    this.loops.push(this.adjust());
    this.loops.push(this.welcome());
    for (let i = 0; i < subscribers; i++) this.openWatcher();
  }

  /** Stops every loop (in-flight requests finish) and opens no more watchers; the open ones stay open. */
  async stop(): Promise<void> {
    this.running = false;
    // New customers' loops join while it waits.
    while (this.loops.length) await Promise.all(this.loops.splice(0));
  }

  /** Closes every watcher's socket. */
  async closeWatchers(): Promise<void> {
    await Promise.all(this.record.watchers.map((w) => w.client.dispose()));
  }

  private get traffic(): Traffic {
    return this.options.traffic;
  }

  private async browse(): Promise<void> {
    const { products } = this.options;
    while (this.running) {
      const roll = Math.random();
      if (roll < 0.5) await this.traffic.send('products(search)', SEARCH, { search: pick(WORDS), sort: 'RELEVANCE' });
      else if (roll < 0.75) await this.traffic.send('products(category)', SEARCH, { category: pick(products).category, inStock: true, sort: 'PRICE_ASC' });
      else await this.traffic.send('product', PRODUCT, { id: pick(products).id });
      await pause(between(50, 250));
    }
  }

  /** Sends until the answer is not a lost connection (a restarting gateway), at most `tries` times. */
  private async sendSurely<T>(operation: string, query: string, variables: Record<string, unknown>, token: string, tries = 4) {
    for (let attempt = 1; ; attempt++) {
      const answer = await this.traffic.send<T>(operation, query, variables, token);
      const retry = answer.code === 'CONNECTION' || answer.code === 'TIMEOUT' || answer.code === 'SERVICE_UNAVAILABLE';
      if (!retry || attempt >= tries || !this.running) return answer;
      await pause(500 * attempt);
    }
  }

  private async shop(customer: Person): Promise<void> {
    const { products, telegram } = this.options;
    await pause(between(0, 1000));
    while (this.running) {
      const chosen = [...new Set(Array.from({ length: between(1, 3) }, () => pick(products)))];
      const lines = chosen.map((p) => ({ productId: p.id, quantity: between(1, 3) }));
      // The same key on a retry: the shop returns the order it placed for the first attempt.
      const placed = await this.sendSurely<{ placeOrder: { id: string; number: string; status: string } }>('placeOrder', PLACE, { input: { lines, idempotencyKey: randomUUID() } }, customer.token);
      const order = placed.data?.placeOrder;
      if (!order) {
        await pause(between(300, 1000));
        continue;
      }
      this.record.ordersPlaced += 1;
      if (order.status === 'AWAITING_CONFIRMATION') {
        const roll = Math.random();
        if (roll < 0.4) {
          const answer = await this.sendSurely<{ confirmOrder: { status: string } }>('confirmOrder', CONFIRM, { id: order.id }, customer.token);
          if (answer.data?.confirmOrder.status === 'CONFIRMED') this.record.confirmedByApi += 1;
        } else if (roll < 0.65) {
          await this.confirmByButton(customer, order, telegram);
        } else if (roll < 0.9) {
          const answer = await this.sendSurely<{ cancelOrder: { status: string } }>('cancelOrder', CANCEL, { id: order.id }, customer.token);
          if (answer.data?.cancelOrder.status === 'CANCELLED') this.record.cancelled += 1;
        } else {
          this.record.leftAwaiting += 1;
        }
      }
      await pause(between(200, 800));
    }
  }

  /** The customer presses Confirm under the bot's message; without the message in time, confirms by the API. */
  private async confirmByButton(customer: Person, order: { id: string; number: string }, telegram: FakeTelegram): Promise<void> {
    let ask;
    const askedAt = Date.now();
    try {
      ask = await telegram.waitForMessage({ chatId: customer.telegram.chatId, textIncludes: `Please confirm order ${order.number}` }, 15_000);
    } catch {
      this.record.buttonFallbacks += 1;
      const seen = this.traffic.record('telegram:confirmationAsk', 'TELEGRAM_TIMEOUT', `no "Please confirm order ${order.number}" within 15 s`, askedAt);
      // How late it came, for the report (the customer does not wait for it).
      telegram.waitForMessage({ chatId: customer.telegram.chatId, textIncludes: `Please confirm order ${order.number}` }, 60_000).then(
        () => seen && (seen.message += ` (it came ${((Date.now() - askedAt) / 1000).toFixed(1)} s after the order)`),
        () => seen && (seen.message += ' (not within 75 s)'),
      );
      const answer = await this.sendSurely<{ confirmOrder: { status: string } }>('confirmOrder', CONFIRM, { id: order.id }, customer.token);
      if (answer.data?.confirmOrder.status === 'CONFIRMED') this.record.confirmedByApi += 1;
      return;
    }
    customer.telegram.pressButton(ask, `order:confirm:${order.id}`);
    const pressedAt = Date.now();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      await pause(300);
      const answer = await this.traffic.send<{ order: { status: string } | null }>('order', ORDER, { id: order.id }, customer.token);
      const status = answer.data?.order?.status;
      if (status && status !== 'AWAITING_CONFIRMATION' && status !== 'PENDING') {
        if (status === 'CONFIRMED') this.record.confirmedByButton += 1;
        return;
      }
    }
    this.traffic.record('telegram:confirmButton', 'TELEGRAM_TIMEOUT', `order ${order.number} still awaiting 30 s after Confirm was pressed`, pressedAt);
  }

  private async adjust(): Promise<void> {
    const { products, admin } = this.options;
    while (this.running) {
      const product = pick(products);
      const delta = Math.random() < 0.25 ? -between(1, 3) : between(2, 12);
      const reason = `soak restock ${randomUUID()}`;
      // Not retried: a lost answer leaves it unknown whether it was applied (the check reads the movements).
      const answer = await this.traffic.send<{ adjustStock: { available: number } }>('adjustStock', ADJUST, { productId: product.id, delta, reason }, admin.token);
      if (answer.data?.adjustStock) this.record.adjustments.push({ productId: product.id, delta, reason });
      await pause(between(300, 700));
    }
  }

  /** New people log in through the bot now and then, and start shopping. */
  private async welcome(): Promise<void> {
    let joined = 0;
    while (this.running && joined < this.options.newcomers) {
      await pause(between(1500, 3000));
      const person = await logIn(this.traffic, this.options.telegram);
      if (!person) continue;
      joined += 1;
      this.record.logins += 1;
      if (this.running) this.loops.push(this.shop(person));
    }
  }

  /**
   * One graphql-ws subscriber of one or two products' stock. When its socket closes, another takes its
   * place, after a pause that grows while the gateway keeps refusing (so a restart is not a storm).
   */
  private openWatcher(failures = 0): void {
    const { products, gatewayUrl } = this.options;
    const productIds = [...new Set([pick(products).id, pick(products).id])];
    const client = createClient({ url: gatewayUrl.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    const watcher: Watcher = { id: ++this.nextWatcher, productIds, openedAt: Date.now(), last: new Map(), recent: [], received: 0, client };
    this.record.watchers.push(watcher);
    const closed = (reason: string) => {
      if (watcher.closedAt) return;
      watcher.closedAt = Date.now();
      watcher.closeReason = reason;
      const lasted = watcher.closedAt - watcher.openedAt > 5000 || watcher.received > 0;
      const next = lasted ? 0 : failures + 1;
      const wait = Math.min(500 * 2 ** next, 8000) * (0.5 + Math.random());
      if (this.running) setTimeout(() => this.running && this.openWatcher(next), wait);
    };
    client.subscribe<{ stockUpdated: { productId: string; available: number } }>(
      { query: STOCK_UPDATED, variables: { ids: productIds } },
      {
        next: (result) => {
          const update = result.data?.stockUpdated;
          if (!update) return;
          watcher.received += 1;
          watcher.last.set(update.productId, update.available);
          watcher.recent.push({ ...update, at: Date.now() });
          if (watcher.recent.length > 6) watcher.recent.shift();
        },
        error: (error) => closed(describeClose(error)),
        complete: () => closed('completed'),
      },
    );
  }
}

function describeClose(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error) return `closed ${(error as { code: number }).code}`;
  // A socket that never opened (the gateway down): ws's ErrorEvent.
  if (error && typeof error === 'object' && 'type' in error && (error as { type: string }).type === 'error') return 'could not connect';
  if (Array.isArray(error)) return `errors ${JSON.stringify(error).slice(0, 120)}`;
  return error instanceof Error ? error.message : String(error);
}
