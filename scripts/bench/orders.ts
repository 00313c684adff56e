/**
 * npm run bench:orders: how many orders can be placed and confirmed per second through the gateway?
 *
 * Creates its own database (shop_bench_*) on TEST_DATABASE_SERVER_URL's server, applies the
 * migrations, starts auth, catalog, inventory, order and the gateway as child processes (as
 * `npm start` does), logs users in through the gateway (codes read from the auth service's
 * development log), creates products with stock as an admin, then for BENCH_DURATION seconds keeps
 * BENCH_CONCURRENCY orders in flight: each is placed (the saga reserves its stock) and confirmed
 * (the saga commits it); every 10th is cancelled instead (the saga releases it). It prints the
 * throughput and the latency percentiles, checks that every product's stock adds up across the
 * order and inventory schemas, writes docs/benchmarks.md, and drops the database.
 *
 *   npm run bench:orders                    # the whole run
 *   npm run bench:orders -- --no-write      # do not touch docs/benchmarks.md
 *   npm run bench:orders -- --keep          # keep the database afterwards, print its URL
 *
 * Tunables (environment): BENCH_DURATION seconds (15), BENCH_CONCURRENCY (8), BENCH_USERS (16),
 * BENCH_PRODUCTS (20), BENCH_WARMUP seconds (3); BENCH_PROFILE=order,inventory,gateway,... runs those
 * processes with `node --cpu-prof` (written when they stop, in BENCH_PROFILE_DIR/<name>/, default .data/profiles).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { CROWD_FROM_ONE_ADDRESS, ROOT, cpuPerUnit, cpuSnapshot, freePort, percentile, pgConfig, postgresVersion, say, serviceEnv, startService, withBenchDatabase, writeSection } from './harness';

const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const USERS = Number(process.env.BENCH_USERS ?? 16);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 20);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const INITIAL_STOCK = 1_000_000;
const CANCEL_EVERY = 10;
const WRITE_DOC = !process.argv.includes('--no-write');
const KEEP = process.argv.includes('--keep');
const PROFILE = new Set((process.env.BENCH_PROFILE ?? '').split(',').filter(Boolean));
const PROFILE_DIR = path.resolve(ROOT, process.env.BENCH_PROFILE_DIR ?? '.data/profiles');
// One folder per process: tsx's loader thread writes a profile of its own next to the main thread's (the larger one).
const profiled = (name: string): string[] => (PROFILE.has(name) ? ['--cpu-prof', `--cpu-prof-dir=${path.join(PROFILE_DIR, name)}`] : []);

// ---------- services ----------

/** Starts `entry` with `node --import tsx`; `onLine` sees each line it prints on stdout (the rest goes to this terminal). */

// ---------- GraphQL through the gateway ----------

interface Answer {
  data?: Record<string, any> | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** Keep-alive pools by origin: undici's `request` costs the load generator far less CPU per call than fetch. */
const pools = new Map<string, Pool>();

async function gql(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<Answer> {
  const target = new URL(url);
  let pool = pools.get(target.origin);
  if (!pool) pools.set(target.origin, (pool = new Pool(target.origin)));
  const response = await pool.request({
    path: target.pathname,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.body.json()) as Answer;
}

async function must(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<Record<string, any>> {
  const answer = await gql(url, query, variables, token);
  if (!answer.data || answer.errors) throw new Error(`${query.trim().split('\n')[0]} failed: ${JSON.stringify(answer.errors)}`);
  return answer.data;
}

/** Login codes as the auth service logs them in development (no Telegram bot). */
class CodeLog {
  private readonly codes = new Map<string, string>();
  private readonly waiters = new Map<string, (code: string) => void>();

  onLine = (line: string): void => {
    const match = /login code for (\+\d+): (\d{6})/.exec(line);
    if (!match) return;
    const [, phone, code] = match;
    this.codes.set(phone!, code!);
    this.waiters.get(phone!)?.(code!);
  };

  codeFor(phone: string): Promise<string> {
    const known = this.codes.get(phone);
    if (known) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no login code for ${phone} in the auth log`)), 10_000);
      this.waiters.set(phone, (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }
}

/** `count` distinct valid UK mobile numbers, the same every run. */
function phones(count: number): string[] {
  const found: string[] = [];
  for (let n = 7_400_000_000; found.length < count; n += 7919) {
    const candidate = `+44${n}`;
    if (parsePhoneNumberFromString(candidate)?.isValid()) found.push(candidate);
  }
  return found;
}

async function logIn(gateway: string, codes: CodeLog, phone: string): Promise<{ token: string; userId: string }> {
  await must(gateway, 'mutation($phone: String!) { requestOtp(phone: $phone) { expiresAt } }', { phone });
  const code = await codes.codeFor(phone);
  const data = await must(gateway, 'mutation($phone: String!, $code: String!) { verifyOtp(phone: $phone, code: $code) { accessToken user { id role } } }', { phone, code });
  return { token: data.verifyOtp.accessToken, userId: data.verifyOtp.user.id };
}

// ---------- the load ----------

const PLACE = /* GraphQL */ `mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { id status cancelReason } }`;
const CONFIRM = /* GraphQL */ `mutation Confirm($id: ID!) { confirmOrder(id: $id) { status } }`;
const CANCEL = /* GraphQL */ `mutation Cancel($id: ID!) { cancelOrder(id: $id) { status } }`;

interface Tally {
  placeMs: number[];
  confirmMs: number[];
  confirmed: number;
  cancelled: number;
  failed: number;
  errors: Map<string, number>;
}

const newTally = (): Tally => ({ placeMs: [], confirmMs: [], confirmed: 0, cancelled: 0, failed: 0, errors: new Map() });

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `concurrency` loops, each placing an order and confirming (or cancelling) it, until `seconds` have passed. */
async function run(gateway: string, users: Array<{ token: string }>, products: string[], concurrency: number, seconds: number, seed: number): Promise<Tally & { seconds: number }> {
  const tally = newTally();
  const random = seededRandom(seed);
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!;
  let sequence = 0;
  const error = (what: string) => tally.errors.set(what, (tally.errors.get(what) ?? 0) + 1);
  const started = performance.now();
  const deadline = started + seconds * 1000;

  const loop = async () => {
    while (performance.now() < deadline) {
      const user = pick(users);
      const count = 1 + Math.floor(random() * 3);
      const chosen = [...new Set(Array.from({ length: count }, () => pick(products)))];
      const lines = chosen.map((productId) => ({ productId, quantity: 1 + Math.floor(random() * 3) }));
      const cancel = ++sequence % CANCEL_EVERY === 0;

      let t = performance.now();
      const placed = await gql(gateway, PLACE, { input: { lines, idempotencyKey: randomUUID() } }, user.token);
      tally.placeMs.push(performance.now() - t);
      const order = placed.data?.placeOrder as { id: string; status: string } | undefined;
      if (!order) {
        error(`placeOrder: ${placed.errors?.[0]?.extensions?.code ?? 'no data'}`);
        continue;
      }
      if (order.status !== 'AWAITING_CONFIRMATION') {
        tally.failed += 1;
        error(`placeOrder answered ${order.status}`);
        continue;
      }
      t = performance.now();
      const answered = await gql(gateway, cancel ? CANCEL : CONFIRM, { id: order.id }, user.token);
      tally.confirmMs.push(performance.now() - t);
      const status = (answered.data?.[cancel ? 'cancelOrder' : 'confirmOrder'] as { status: string } | undefined)?.status;
      if (status === 'CONFIRMED') tally.confirmed += 1;
      else if (status === 'CANCELLED') tally.cancelled += 1;
      else error(`${cancel ? 'cancelOrder' : 'confirmOrder'}: ${status ?? answered.errors?.[0]?.extensions?.code ?? 'no data'}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { ...tally, seconds: (performance.now() - started) / 1000 };
}

// ---------- the check ----------

interface StockCheck {
  products: number;
  mismatches: string[];
  sold: number;
  reserved: number;
}

/**
 * For every product, across the inventory's and the order's schemas:
 * initial = on-hand + committed (= the lines of CONFIRMED orders), reserved = RESERVED reservation lines
 * (= the lines of orders AWAITING_CONFIRMATION), and no order left mid-saga.
 */
async function checkStock(databaseUrl: string, productIds: string[]): Promise<StockCheck> {
  const client = new pg.Client(pgConfig(databaseUrl));
  await client.connect();
  try {
    const { rows } = await client.query<{ product_id: string; on_hand: number; reserved: number; committed: number; held: number; ordered_confirmed: number; ordered_awaiting: number }>(
      `SELECT i.product_id::text, i.on_hand, i.reserved,
              COALESCE((SELECT sum(quantity) FROM inventory.reservations r WHERE r.product_id = i.product_id AND r.status = 'COMMITTED'), 0)::int AS committed,
              COALESCE((SELECT sum(quantity) FROM inventory.reservations r WHERE r.product_id = i.product_id AND r.status = 'RESERVED'), 0)::int AS held,
              COALESCE((SELECT sum(l.quantity) FROM "order".order_lines l JOIN "order".orders o ON o.id = l.order_id
                         WHERE l.product_id = i.product_id AND o.status IN ('CONFIRMED', 'FULFILLED')), 0)::int AS ordered_confirmed,
              COALESCE((SELECT sum(l.quantity) FROM "order".order_lines l JOIN "order".orders o ON o.id = l.order_id
                         WHERE l.product_id = i.product_id AND o.status = 'AWAITING_CONFIRMATION'), 0)::int AS ordered_awaiting
         FROM inventory.inventory_items i WHERE i.product_id = ANY($1::uuid[])`,
      [productIds],
    );
    const open = await client.query<{ count: number }>(`SELECT count(*)::int AS count FROM "order".orders WHERE saga_step <> 'NONE'`);
    const mismatches: string[] = [];
    for (const row of rows) {
      const id = row.product_id.slice(0, 8);
      if (row.on_hand + row.committed !== INITIAL_STOCK) mismatches.push(`${id}: on-hand ${row.on_hand} + committed ${row.committed} != ${INITIAL_STOCK}`);
      if (row.reserved !== row.held) mismatches.push(`${id}: reserved ${row.reserved} != RESERVED lines ${row.held}`);
      if (row.committed !== row.ordered_confirmed) mismatches.push(`${id}: committed ${row.committed} != confirmed order lines ${row.ordered_confirmed}`);
      if (row.held !== row.ordered_awaiting) mismatches.push(`${id}: reserved ${row.held} != lines of orders awaiting confirmation ${row.ordered_awaiting}`);
    }
    if (rows.length !== productIds.length) mismatches.push(`${productIds.length - rows.length} products have no inventory item`);
    if (open.rows[0]!.count > 0) mismatches.push(`${open.rows[0]!.count} orders are still mid-saga`);
    return {
      products: rows.length,
      mismatches,
      sold: rows.reduce((sum, row) => sum + row.committed, 0),
      reserved: rows.reduce((sum, row) => sum + row.reserved, 0),
    };
  } finally {
    await client.end();
  }
}

// ---------- report ----------

const ms = (value: number) => `${value.toFixed(1)} ms`;

function latencyRow(name: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `| ${name} | ${sorted.length.toLocaleString('en')} | ${ms(percentile(sorted, 0.5))} | ${ms(percentile(sorted, 0.95))} | ${ms(percentile(sorted, 0.99))} | ${ms(sorted.at(-1) ?? NaN)} |`;
}

// ---------- the run ----------

async function main(): Promise<void> {
  await withBenchDatabase(KEEP, async (databaseUrl, services) => {

    const [adminPhone, ...userPhones] = phones(USERS + 1) as [string, ...string[]];
    const ports = { auth: await freePort(), catalog: await freePort(), inventory: await freePort(), order: await freePort(), gateway: await freePort() };
    const { env: base, urls } = serviceEnv(databaseUrl, ports);
    const env: Record<string, string> = {
      ...base,
      // Every loop may pick the same user at once: the cap of orders awaiting confirmation is not what this measures.
      ORDER_MAX_UNCONFIRMED_PER_USER: String(CONCURRENCY),
      ...CROWD_FROM_ONE_ADDRESS,
    };
    const codes = new CodeLog();
    if (PROFILE.size) fs.mkdirSync(PROFILE_DIR, { recursive: true });
    let started = Date.now();
    // Auth in development: without a Telegram bot it logs the login codes, which this script reads.
    const authEnv = { ...env, NODE_ENV: 'development', ADMIN_PHONES: adminPhone, OTP_IP_LIMIT_PER_HOUR: '100000', OTP_PHONE_LIMIT_PER_HOUR: '100' };
    // All settled before going on, so that a failed start still stops every one that did start.
    const starts = await Promise.allSettled([
      startService('auth', 'subgraphs/auth/src/main.ts', authEnv, ports.auth, '/ready', codes.onLine, profiled('auth')),
      startService('catalog', 'subgraphs/catalog/src/main.ts', env, ports.catalog, '/ready', undefined, profiled('catalog')),
      startService('inventory', 'subgraphs/inventory/src/main.ts', env, ports.inventory, '/ready', undefined, profiled('inventory')),
      startService('order', 'subgraphs/order/src/main.ts', env, ports.order, '/ready', undefined, profiled('order')),
    ]);
    for (const start of starts) if (start.status === 'fulfilled') services.push(start.value);
    const failed = starts.find((start) => start.status === 'rejected');
    if (failed) throw failed.reason;
    const gatewayService = await startService('gateway', 'gateway/src/main.ts', env, ports.gateway, '/health', undefined, profiled('gateway'));
    services.push(gatewayService);
    const gateway = gatewayService.url;
    say(`auth, catalog, inventory, order and the gateway ${gateway} started in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    started = Date.now();
    const admin = await logIn(gateway, codes, adminPhone);
    const users = await Promise.all(userPhones.map((phone) => logIn(gateway, codes, phone)));
    const random = seededRandom(20261124);
    const productIds: string[] = [];
    for (let i = 0; i < PRODUCTS; i++) {
      const created = await must(
        gateway,
        'mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }',
        { input: { sku: `BENCH-${i}`, name: `Bench product ${i}`, category: 'bench', price: { amount: 500 + Math.floor(random() * 20_000) } } },
        admin.token,
      );
      const productId = created.createProduct.id as string;
      await must(gateway, 'mutation($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId } }', { input: { productId, onHand: INITIAL_STOCK } }, admin.token);
      productIds.push(productId);
    }
    say(`${USERS} users logged in, ${PRODUCTS} products with ${INITIAL_STOCK.toLocaleString('en')} each in stock (${((Date.now() - started) / 1000).toFixed(1)} s)`);

    // Other work on the machine skews the numbers: the report says how busy it was.
    const loadBefore = os.loadavg()[0]!;
    say(`warming up ${WARMUP} s, then ${DURATION} s at ${CONCURRENCY} orders in flight (load average ${loadBefore.toFixed(1)})`);
    await run(gateway, users, productIds, CONCURRENCY, WARMUP, 1);
    const cpuBefore = cpuSnapshot(services);
    const result = await run(gateway, users, productIds, CONCURRENCY, DURATION, 2);
    const cpu = cpuPerUnit(cpuBefore, cpuSnapshot(services), result.confirmed + result.cancelled);

    const settled = result.confirmed + result.cancelled;
    const perSecond = result.confirmed / result.seconds;
    const table = [
      '| request | count | p50 | p95 | p99 | max |',
      '|---|---:|---:|---:|---:|---:|',
      latencyRow('placeOrder (reserve)', result.placeMs),
      latencyRow('confirmOrder / cancelOrder (commit / release)', result.confirmMs),
    ].join('\n');
    console.log(`\n${table}\n`);
    say(`${result.confirmed} orders placed and confirmed (${perSecond.toFixed(1)}/s), ${result.cancelled} placed and cancelled, ${settled} in all (${(settled / result.seconds).toFixed(1)}/s) in ${result.seconds.toFixed(1)} s`);
    say(`CPU per order through the saga, ms: ${cpu}`);
    const errors = [...result.errors].map(([what, count]) => `${what} x${count}`);
    if (errors.length) say(`errors: ${errors.join(', ')}`);

    // Let the last sagas' effects settle (they are inline, so nothing should be left), then check the books.
    const check = await checkStock(databaseUrl, productIds);
    say(`stock check over ${check.products} products: ${check.mismatches.length === 0 ? 'every product adds up' : `${check.mismatches.length} MISMATCHES`} (sold ${check.sold.toLocaleString('en')}, reserved ${check.reserved})`);
    for (const mismatch of check.mismatches) say(`  ${mismatch}`);
    if (check.mismatches.length) throw new Error('the stock does not add up');
    if (errors.length) throw new Error('some requests failed: see above');

    if (WRITE_DOC) {
      const cpus = os.cpus();
      const section = [
        '## Orders: place and confirm through the gateway (`npm run bench:orders`)',
        '',
        `Run on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. Command: \`npm run bench:orders\` (a ${WARMUP} s warm-up, then ${DURATION} s with ${CONCURRENCY} orders in flight).`,
        '',
        `Machine: ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.type()} ${os.release()}; Node ${process.version}, PostgreSQL ${await postgresVersion(databaseUrl)}, Redis on loopback; 1-minute load average ${loadBefore.toFixed(1)} before the run. The load generator, the gateway, the auth, catalog, inventory and order subgraphs (one process each) and PostgreSQL share those cores; the notification service is not running.`,
        '',
        `Load: ${USERS} logged-in users, ${PRODUCTS} products; each order has 1 to 3 lines of 1 to 3 items. One order in flight = \`placeOrder\` (catalog snapshot in one request, insert, saga: \`reserveStock\` on the inventory, AWAITING_CONFIRMATION + OrderPlaced through the outbox) then \`confirmOrder\` (saga: \`commitStock\`, CONFIRMED + OrderConfirmed); every ${CANCEL_EVERY}th is cancelled instead (\`releaseStock\`).`,
        '',
        `**${perSecond.toFixed(1)} orders placed and confirmed per second** (${result.confirmed.toLocaleString('en')} in ${result.seconds.toFixed(1)} s; with the ${result.cancelled.toLocaleString('en')} cancelled ones, ${(settled / result.seconds).toFixed(1)} orders/s through the whole saga). Errors: ${errors.length ? errors.join(', ') : 'none'}.`,
        '',
        table,
        '',
        `Check after the run, per product across the inventory's and the order's schemas: on-hand + committed = initial stock, reserved = RESERVED reservation lines = lines of orders awaiting confirmation, committed = lines of confirmed orders, no order left mid-saga: ${check.mismatches.length === 0 ? `all ${check.products} products add up` : `${check.mismatches.length} mismatches`} (${check.sold.toLocaleString('en')} items sold).`,
      ].join('\n');
      writeSection('orders', section);
      say(`wrote docs/benchmarks.md`);
    }
  });
}

if (require.main === module) {
  main().finally(() => Promise.all([...pools.values()].map((pool) => pool.destroy()))).catch((error: unknown) => {
    console.error(`[bench] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  });
}
