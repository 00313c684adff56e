/**
 * One soak: the shop as child processes on a database, a Redis and a fake Bot API of its own; load
 * for a set time while faults are injected one after another; then the shop settles and the
 * invariants are checked. Used by `npm run soak` (scripts/soak/index.ts) and by test/soak.e2e.test.ts.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { FakeTelegram } from '../../test/support/fake-telegram';
import { CROWD_FROM_ONE_ADDRESS, freePort, pgConfig } from '../bench/harness';
import { Traffic, type SeenError } from './client';
import { FaultInjector, describeFault, type Fault, type FaultRecord } from './faults';
import { checkInvariants, inFlight, type Invariant } from './invariants';
import { Load, type LoadRecord, type Product } from './load';
import { logInSurely, newPhone, type Person } from './people';
import { SoakRedis } from './redis-server';
import { Shop } from './shop';

export interface SoakOptions {
  databaseUrl: string;
  /** Seconds of load (faults that run over keep the load going until they have recovered, plus `tailSeconds`). */
  durationSeconds: number;
  customers: number;
  browsers: number;
  subscribers: number;
  newcomers: number;
  products: number;
  faults: Fault[];
  /** Seconds of load before the first fault, and after the last one has recovered. */
  warmupSeconds: number;
  tailSeconds: number;
  /** How long a Bot API fault or a Redis stop lasts. */
  outageMs: number;
  settleTimeoutMs: number;
  logDir: string;
  say: (line: string) => void;
}

/** The full schedule: every subgraph and the gateway killed in turn, Redis, two services' PostgreSQL sessions, both Bot API faults. */
export const FULL_SCHEDULE: Fault[] = [
  { kind: 'kill', target: 'inventory' },
  { kind: 'telegram-429' },
  { kind: 'kill', target: 'order' },
  { kind: 'postgres', target: 'order' },
  { kind: 'redis' },
  { kind: 'kill', target: 'catalog' },
  { kind: 'postgres', target: 'inventory' },
  { kind: 'kill', target: 'notification' },
  { kind: 'telegram-500' },
  { kind: 'kill', target: 'auth' },
  { kind: 'postgres', target: 'notification' },
  { kind: 'kill', target: 'gateway' },
];

/** Each kind of fault once: what the test suite's short soak runs. */
export const SHORT_SCHEDULE: Fault[] = [
  { kind: 'kill', target: 'order' },
  { kind: 'telegram-429' },
  { kind: 'postgres', target: 'inventory' },
  { kind: 'redis' },
  { kind: 'telegram-500' },
  { kind: 'kill', target: 'gateway' },
];

export interface SoakReport {
  startedAt: Date;
  options: Omit<SoakOptions, 'say' | 'databaseUrl'>;
  loadSeconds: number;
  traffic: { served: number; byOperation: Array<[string, { ok: number; failed: number }]>; errorsByCode: Array<[string, number]> };
  probes: { served: number; errorsByCode: Array<[string, number]> };
  load: Omit<LoadRecord, 'watchers' | 'adjustments'> & { adjustments: number; watchersOpened: number };
  faults: Array<FaultRecord & { offsetMs: number }>;
  settleMs: number;
  stillInFlight: string[];
  invariants: Invariant[];
  ok: boolean;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** After a fault has recovered, errors may trail it this long (requests that began before recovery are placed by their start). */
const GRACE_MS = 5_000;

const CATEGORIES = ['kitchen', 'audio', 'furniture', 'lighting'];
const NAMES: Record<string, string[]> = {
  kitchen: ['Gooseneck kettle', 'Steel coffee mug', 'Glass blender'],
  audio: ['Wireless headphones', 'Bookshelf speaker', 'Studio headphones'],
  furniture: ['Oak desk', 'Folding chair', 'Reading chair'],
  lighting: ['Desk lamp', 'Floor lamp', 'Paper lamp'],
};

async function setUp(gatewayUrl: string, traffic: Traffic, admin: Person, count: number): Promise<{ products: Product[]; initialStock: Map<string, number> }> {
  const products: Product[] = [];
  const initialStock = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const category = CATEGORIES[i % CATEGORIES.length]!;
    const name = `${NAMES[category]![Math.floor(i / CATEGORIES.length) % 3]} ${i}`;
    const created = await traffic.send<{ createProduct: { id: string } }>(
      'createProduct',
      `mutation SoakCreateProduct($input: CreateProductInput!) { createProduct(input: $input) { id } }`,
      { input: { sku: `SOAK-${i}-${Date.now()}`, name, category, description: `A ${name.toLowerCase()} for the soak`, price: { amount: 500 + i * 137 } } },
      admin.token,
    );
    if (!created.data) throw new Error(`createProduct failed: ${JSON.stringify(created.errors)}`);
    const id = created.data.createProduct.id;
    const onHand = 20 + ((i * 37) % 60);
    const item = await traffic.send(
      'createInventoryItem',
      `mutation SoakCreateItem($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId } }`,
      { input: { productId: id, onHand, lowStockThreshold: 3 } },
      admin.token,
    );
    if (!item.data) throw new Error(`createInventoryItem failed: ${JSON.stringify(item.errors)}`);
    products.push({ id, name, category });
    initialStock.set(id, onHand);
  }
  return { products, initialStock };
}

/**
 * Each path of the load once before it starts (a process's first query of a kind compiles it, which
 * on a busy machine takes seconds): an order confirmed, one cancelled, a search, a product.
 */
async function warmUp(traffic: Traffic, customer: Person, products: Product[]): Promise<void> {
  for (const action of ['confirmOrder', 'cancelOrder'] as const) {
    const placed = await traffic.send<{ placeOrder: { id: string } }>(
      'placeOrder',
      `mutation SoakWarmPlace($input: PlaceOrderInput!) { placeOrder(input: $input) { id number status } }`,
      { input: { lines: [{ productId: products[0]!.id, quantity: 1 }], idempotencyKey: randomBytes(8).toString('hex') } },
      customer.token,
      60_000,
    );
    if (placed.data) await traffic.send(action, `mutation SoakWarm($id: ID!) { ${action}(id: $id) { id status } }`, { id: placed.data.placeOrder.id }, customer.token, 60_000);
  }
  await traffic.send('products', `query SoakWarmSearch { products(filter: { search: "lamp" }, first: 10) { totalCount edges { node { id name inStock price { amount } } } } }`, {}, undefined, 60_000);
  await traffic.send('product', `query SoakWarmProduct($id: ID!) { product(id: $id) { id name inStock stock { available } } }`, { id: products[1]!.id }, undefined, 60_000);
}

/** Runs `body` with at most `limit` at a time. */
async function inBatches<T, R>(items: T[], limit: number, body: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += limit) results.push(...(await Promise.all(items.slice(i, i + limit).map(body))));
  return results;
}

async function waitSettled(options: SoakOptions, shop: Shop, redis: SoakRedis, timeoutMs: number): Promise<{ ms: number; open: string[] }> {
  const started = Date.now();
  let open: string[] = [];
  while (Date.now() - started < timeoutMs) {
    open = await inFlight(options.databaseUrl, redis.url, shop.keyPrefix);
    if (open.length === 0) return { ms: Date.now() - started, open };
    await pause(500);
  }
  return { ms: Date.now() - started, open };
}

async function availableOf(databaseUrl: string): Promise<Map<string, number>> {
  const client = new pg.Client(pgConfig(databaseUrl));
  await client.connect();
  try {
    const { rows } = await client.query<{ product_id: string; available: number }>(`SELECT product_id::text, on_hand - reserved AS available FROM inventory.inventory_items`);
    return new Map(rows.map((row) => [row.product_id, row.available]));
  } finally {
    await client.end();
  }
}

/**
 * Failures that did not overlap a fault's window (injected .. recovered + grace): a request in flight
 * when a process is killed fails, though it began before. Errors without a code are never explained.
 */
function unexplainedFailures(failures: SeenError[], faults: FaultRecord[], loadEnd: number): SeenError[] {
  return failures.filter((failure) => {
    if (failure.code === 'NO_CODE') return true;
    return !faults.some((fault) => failure.endedAt >= fault.injectedAt && failure.at <= (fault.recoveredAt ?? loadEnd) + GRACE_MS);
  });
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { say } = options;
  const startedAt = new Date();
  // A token of the run's own: production refuses the well-known test token.
  const telegram = await FakeTelegram.start({ token: `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:${randomBytes(24).toString('base64url')}` });
  const redis = await SoakRedis.start(await freePort());
  const adminPhone = newPhone();
  let shop: Shop | undefined;
  let load: Load | undefined;
  try {
    let t = Date.now();
    shop = await Shop.start({
      databaseUrl: options.databaseUrl,
      redisUrl: redis.url,
      telegram: { token: telegram.token, apiRoot: telegram.apiRoot },
      adminPhones: [adminPhone],
      logDir: options.logDir,
      env: {
        // Orders left unconfirmed are cancelled within the run; their reservations outlive the deadline.
        ORDER_CONFIRMATION_TIMEOUT_SECONDS: '45',
        RESERVATION_TTL_SECONDS: '75',
        ...CROWD_FROM_ONE_ADDRESS,
      },
    });
    say(`shop started in ${((Date.now() - t) / 1000).toFixed(1)} s: gateway ${shop.gatewayUrl}, Redis ${redis.url}, Bot API ${telegram.apiRoot}`);

    t = Date.now();
    const setup = new Traffic(shop.gatewayUrl);
    const admin = await logInSurely(setup, telegram, adminPhone);
    const customers = await inBatches(Array.from({ length: options.customers + 1 }, () => newPhone()), 8, (phone) => logInSurely(setup, telegram, phone));
    const probeCustomer = customers.pop()!;
    const { products, initialStock } = await setUp(shop.gatewayUrl, setup, admin, options.products + 1);
    const probeProduct = products.pop()!;
    await warmUp(setup, customers[0]!, products);
    say(`${customers.length + 2} people logged in through the bot, ${products.length + 1} products created in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const traffic = new Traffic(shop.gatewayUrl);
    const probes = new Traffic(shop.gatewayUrl);
    load = new Load({ gatewayUrl: shop.gatewayUrl, traffic, telegram, products, customers, admin, browsers: options.browsers, subscribers: options.subscribers, newcomers: options.newcomers });
    const injector = new FaultInjector({
      shop,
      redis,
      telegram,
      databaseUrl: options.databaseUrl,
      probes,
      customer: probeCustomer,
      admin,
      probeProduct,
      outageMs: options.outageMs,
      recoveryTimeoutMs: 90_000,
    });

    const loadStart = Date.now();
    load.start();
    say(`load: ${customers.length} customers, ${options.browsers} browsers, ${options.subscribers} subscribers, ${options.newcomers} newcomers; ${options.faults.length} faults`);
    // Faults spread over the load; one starts only when the one before has recovered.
    const nominalEnd = loadStart + options.durationSeconds * 1000;
    const window = Math.max(0, nominalEnd - options.tailSeconds * 1000 - (loadStart + options.warmupSeconds * 1000));
    const slot = window / Math.max(1, options.faults.length);
    let lastRecovered = loadStart;
    for (const [i, fault] of options.faults.entries()) {
      const at = Math.max(loadStart + options.warmupSeconds * 1000 + i * slot, lastRecovered + 2000);
      await pause(at - Date.now());
      const record = await injector.inject(fault);
      lastRecovered = record.recoveredAt ?? Date.now();
      say(
        `fault ${i + 1}/${options.faults.length} ${describeFault(fault)} at +${((record.injectedAt - loadStart) / 1000).toFixed(1)} s: ` +
          (record.recoveredAt ? `recovered in ${((record.recoveredAt - record.injectedAt) / 1000).toFixed(1)} s` : 'NOT RECOVERED'),
      );
    }
    await pause(Math.max(nominalEnd, lastRecovered + options.tailSeconds * 1000) - Date.now());
    await load.stop();
    const loadEnd = Date.now();
    say(`load stopped after ${((loadEnd - loadStart) / 1000).toFixed(0)} s: ${traffic.served} requests; settling`);

    // Settle: sagas, outboxes, streams and Telegram sends drain; unconfirmed orders pass their deadline or stay live.
    let settled = await waitSettled(options, shop, redis, options.settleTimeoutMs);
    // Settles again: the time adds up, what is still in flight is the latest reading's.
    const settleAgain = async () => {
      const again = await waitSettled(options, shop!, redis, options.settleTimeoutMs);
      settled = { ms: settled.ms + again.ms, open: again.open };
    };
    // The last word on stock: one more change of every product, which every open subscriber must see.
    await pause(2000);
    const finalChangeAt = Date.now();
    say(`final change of every product at ${new Date(finalChangeAt).toISOString()}`);
    for (const product of [...products, probeProduct]) {
      const reason = `soak restock ${product.id} final`;
      const answer = await traffic.send('adjustStock', `mutation SoakFinal($id: ID!, $reason: String!) { adjustStock(productId: $id, delta: 1, reason: $reason) { available } }`, { id: product.id, reason }, admin.token);
      if (answer.data) load.record.adjustments.push({ productId: product.id, delta: 1, reason });
    }
    await settleAgain();
    // Subscribers get the last change within a moment (bounded): wait for it before judging. The truth is
    // read again each round: an order left unconfirmed may pass its deadline meanwhile and give its stock back.
    const stayed = () => load!.record.watchers.filter((w) => w.closedAt === undefined && w.openedAt < finalChangeAt);
    const subscribersCaughtUp = async (): Promise<Map<string, number>> => {
      const deadline = Date.now() + 15_000;
      let truth = await availableOf(options.databaseUrl);
      while (Date.now() < deadline && !stayed().every((w) => w.productIds.every((id) => w.last.get(id) === truth.get(id)))) {
        await pause(250);
        truth = await availableOf(options.databaseUrl);
      }
      return truth;
    };
    await subscribersCaughtUp();
    // Orders left unconfirmed may have passed their deadline meanwhile (and given their stock back): settle again.
    await settleAgain();
    await subscribersCaughtUp();
    // That wait may have let another unconfirmed order reach its deadline: its expiry runs now, not later.
    await settleAgain();
    say(`settled in ${(settled.ms / 1000).toFixed(1)} s${settled.open.length ? `; still in flight: ${settled.open.join(', ')}` : ''}; checking invariants`);

    const invariants = await checkInvariants({
      databaseUrl: options.databaseUrl,
      redisUrl: redis.url,
      keyPrefix: shop.keyPrefix,
      telegram,
      load: load.record,
      initialStock,
      readAvailable: () => availableOf(options.databaseUrl),
      finalChangeAt,
    });
    const faults = injector.records;
    const notRecovered = faults.filter((f) => !f.recoveredAt).map((f) => `${f.fault} did not recover within 90 s`);
    const died = shop.deadProcesses().map((name) => `${name} exited by itself`);
    invariants.unshift({
      name: 'every fault recovered, every process alive',
      ok: notRecovered.length === 0 && died.length === 0,
      detail: `${faults.length} faults, ${faults.filter((f) => f.recoveredAt).length} recovered`,
      violations: [...notRecovered, ...died],
    });
    const unexplained = unexplainedFailures(traffic.failures, faults, loadEnd);
    invariants.push({
      name: 'errors only during faults, each with a code or a lost connection',
      ok: unexplained.length === 0,
      detail: `${traffic.failures.length} failures (not refusals of the domain) during the load, ${unexplained.length} outside a fault's window (injected .. recovered + ${GRACE_MS / 1000} s) or without a code`,
      violations: unexplained.slice(0, 10).map((f) => `+${((f.at - loadStart) / 1000).toFixed(1)} s .. +${((f.endedAt - loadStart) / 1000).toFixed(1)} s ${f.operation}: ${f.code} ${f.message}`),
    });

    const { say: _say, databaseUrl: _url, ...shown } = options;
    const { watchers, adjustments, ...counts } = load.record;
    return {
      startedAt,
      options: shown,
      loadSeconds: (loadEnd - loadStart) / 1000,
      traffic: {
        served: traffic.served,
        byOperation: [...traffic.byOperation].sort(([a], [b]) => a.localeCompare(b)),
        errorsByCode: [...traffic.errorsByCode].sort((a, b) => b[1] - a[1]),
      },
      probes: { served: probes.served, errorsByCode: [...probes.errorsByCode].sort((a, b) => b[1] - a[1]) },
      load: { ...counts, adjustments: adjustments.length, watchersOpened: watchers.length },
      faults: faults.map((f) => ({ ...f, offsetMs: f.injectedAt - loadStart })),
      settleMs: settled.ms,
      stillInFlight: settled.open,
      invariants,
      ok: invariants.every((i) => i.ok),
    };
  } finally {
    await load?.closeWatchers().catch(() => undefined);
    await shop?.stop().catch(() => undefined);
    await redis.close();
    await telegram.close();
  }
}

export const defaultLogDir = (root: string) => path.join(root, '.data', 'soak', new Date().toISOString().replace(/[:.]/g, '-'));
export const machine = () => `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}`;
