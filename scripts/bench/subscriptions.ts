/**
 * npm run bench:subscriptions: how fast does one stock change reach 10,000 websocket subscribers?
 *
 * Creates its own database (shop_bench_*), starts the catalog and inventory subgraphs and the
 * gateway as child processes, creates BENCH_PRODUCTS products with stock (as an admin, with a token
 * signed here), then opens BENCH_CLIENTS graphql-ws subscribers from two load processes (so the
 * gateway's process is measured alone), spread over loopback source addresses 127.0.0.2 and up.
 * Stock changes are published on the gateway's live channel in Redis, as the inventory's outbox relay
 * publishes them; a delivery's latency runs from just before the publish to its receipt by a client.
 *
 *   (a) every client watches one product with the federated `product { name price { amount } }`;
 *       BENCH_CHANGES stock changes, a few seconds apart.
 *   (b) the clients watch BENCH_PRODUCTS products (client i watches product i mod BENCH_PRODUCTS);
 *       BENCH_RATE changes a second, round robin over the products, for BENCH_DURATION seconds.
 *
 * The gateway's RSS (/proc/<pid>/status VmRSS) is sampled while the clients are subscribed and while
 * events are delivered. Results go to docs/benchmarks.md ("Subscriptions fan-out").
 *
 *   npm run bench:subscriptions                    # the whole run
 *   npm run bench:subscriptions -- --no-write      # do not touch docs/benchmarks.md
 *
 * Tunables (environment): BENCH_CLIENTS (10000), BENCH_PRODUCTS (100), BENCH_CHANGES (3), BENCH_RATE (10),
 * BENCH_DURATION seconds (30), BENCH_SCENARIOS (a,b), BENCH_GATEWAY_ROOT (another checkout's root to run
 * its gateway instead, to measure older code against the same load).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { JwtService, jwtConfigShape } from '../../kernel/src/jwt';
import { loadConfig } from '../../kernel/src/config';
import { liveChannel } from '../../kernel/src/events/envelope';
import { ROOT, freePort, percentile, say, startService, withBenchDatabase, writeSection, type Service } from './harness';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 10_000);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 100);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 3);
const RATE = Number(process.env.BENCH_RATE ?? 10);
const DURATION = Number(process.env.BENCH_DURATION ?? 30);
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'a,b').split(',');
const GATEWAY_ROOT = process.env.BENCH_GATEWAY_ROOT;
const WRITE_DOC = !process.argv.includes('--no-write');
const LOAD_PROCESSES = 2;
/** Sockets per loopback source address; the gateway allows a little more per address. */
const SOCKETS_PER_ADDRESS = 1000;
/** Stock levels of measured changes start here, so a client tells them from the liveness probes (-1). */
const MARKER = 1_000_000;

const SHARED_STOCK = /* GraphQL */ `subscription BenchStock($ids: [ID!]) { stockUpdated(productIds: $ids) { productId available product { name price { amount } } } }`;

// ---------- the load processes ----------

type ToLoad =
  | { type: 'connect'; url: string; first: number; productIds: string[] }
  | { type: 'resubscribe'; productIds: string[] }
  | { type: 'live' }
  | { type: 'records' }
  | { type: 'close' };
type Delivery = [client: number, available: number, at: number];
type FromLoad =
  | { type: 'connected'; open: number; failed: number; firstError?: string }
  | { type: 'live'; live: number }
  | { type: 'records'; deliveries: Delivery[]; errors: number; closed: Record<string, number> }
  | { type: 'done' };

/** One load process: `productIds[i]` is what its i-th client watches. */
function runLoad(): void {
  const sockets: WebSocket[] = [];
  let subscriptionId = 1;
  let live = new Set<number>();
  let deliveries: Delivery[] = [];
  let errors = 0;
  const closed: Record<string, number> = {};
  const send = (message: FromLoad) => process.send!(message);
  const subscribe = (socket: WebSocket, productId: string) =>
    socket.send(JSON.stringify({ id: String(subscriptionId), type: 'subscribe', payload: { query: SHARED_STOCK, variables: { ids: [productId] } } }));

  function open(url: string, index: number, address: string, productId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws', { localAddress: address, perMessageDeflate: false });
      socket.once('error', reject);
      socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { id?: string; type: string; payload?: { data?: { stockUpdated?: { available: number } } } };
        if (message.type === 'connection_ack') {
          sockets[index] = socket;
          subscribe(socket, productId);
          resolve();
        } else if (message.type === 'next') {
          if (message.id !== String(subscriptionId)) return;
          const available = message.payload?.data?.stockUpdated?.available;
          if (available === undefined) errors += 1;
          else if (available < 0) live.add(index);
          else deliveries.push([index, available, Date.now()]);
        } else if (message.type === 'error') errors += 1;
      });
      socket.on('close', (code) => {
        closed[code] = (closed[code] ?? 0) + 1;
        reject(new Error(`closed with ${code}`));
      });
    });
  }

  process.on('message', async (message: ToLoad) => {
    if (message.type === 'connect') {
      let failed = 0;
      let firstError: string | undefined;
      // A bounded number of handshakes in flight, as a crowd reconnecting would be.
      let next = 0;
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          while (next < message.productIds.length) {
            const index = next++;
            const address = `127.0.0.${2 + Math.floor((message.first + index) / SOCKETS_PER_ADDRESS)}`;
            try {
              await open(message.url, index, address, message.productIds[index]!);
            } catch (error) {
              failed += 1;
              firstError ??= (error as Error).message;
            }
          }
        }),
      );
      send({ type: 'connected', open: sockets.filter(Boolean).length, failed, firstError });
    } else if (message.type === 'resubscribe') {
      const previous = String(subscriptionId);
      subscriptionId += 1;
      live = new Set();
      sockets.forEach((socket, index) => {
        if (socket.readyState !== WebSocket.OPEN) return;
        socket.send(JSON.stringify({ id: previous, type: 'complete' }));
        subscribe(socket, message.productIds[index]!);
      });
      send({ type: 'live', live: 0 });
    } else if (message.type === 'live') {
      send({ type: 'live', live: live.size });
    } else if (message.type === 'records') {
      send({ type: 'records', deliveries, errors, closed: { ...closed } });
      deliveries = [];
      errors = 0;
    } else if (message.type === 'close') {
      sockets.forEach((socket) => socket?.terminate());
      send({ type: 'done' });
      setTimeout(() => process.exit(0), 100);
    }
  });
}

/** The parent's handle on a load process: one request, one answer, in turn. */
class LoadProcess {
  private readonly child: ChildProcess;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly first: number) {
    this.child = fork(__filename, ['--load'], { execArgv: ['--import', 'tsx', '--max-old-space-size=4096'], stdio: 'inherit' });
  }

  ask<T extends FromLoad>(message: ToLoad): Promise<T> {
    const answer = this.queue.then(
      () =>
        new Promise<T>((resolve) => {
          this.child.once('message', (reply) => resolve(reply as T));
          this.child.send(message);
        }),
    );
    this.queue = answer.catch(() => undefined);
    return answer;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

// ---------- measuring ----------

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

/** Samples `pid`'s RSS every 20 ms until stopped; returns the highest. */
function rssSampler(pid: number) {
  let peak = rssMiB(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);
  return { stop: () => (clearInterval(timer), Math.max(peak, rssMiB(pid))) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (value: number) => (Number.isFinite(value) ? `${value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en')} ms` : '-');
const mib = (value: number) => `${Math.round(value)} MiB`;

interface Outcome {
  label: string;
  expected: number;
  delivered: number;
  latencies: number[];
  errors: number;
  closed: Record<string, number>;
  rssSubscribed: number;
  rssDelivering: number;
}

function summary(outcome: Outcome) {
  const sorted = [...outcome.latencies].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? NaN };
}

// ---------- the run ----------

async function main(): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const loads: LoadProcess[] = [];
  const outcomes: Outcome[] = [];
  let connectSeconds = 0;
  const loadBefore = os.loadavg()[0]!;
  try {
    await withBenchDatabase(false, async (databaseUrl, services: Service[]) => {
      const ports = { catalog: await freePort(), inventory: await freePort(), gateway: await freePort() };
      const secret = randomBytes(32).toString('hex');
      const prefix = `bench:${randomBytes(4).toString('hex')}:`;
      const env: Record<string, string> = {
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        DATABASE_URL: databaseUrl,
        JWT_SECRET: secret,
        REDIS_KEY_PREFIX: prefix,
        CATALOG_URL: `http://127.0.0.1:${ports.catalog}/graphql`,
        INVENTORY_URL: `http://127.0.0.1:${ports.inventory}/graphql`,
        ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [`${name.toUpperCase()}_PORT`, String(port)])),
      };
      const started = await Promise.allSettled([
        startService('catalog', 'subgraphs/catalog/src/main.ts', env, ports.catalog, '/ready'),
        startService('inventory', 'subgraphs/inventory/src/main.ts', env, ports.inventory, '/ready'),
      ]);
      for (const start of started) if (start.status === 'fulfilled') services.push(start.value);
      const failed = started.find((start) => start.status === 'rejected');
      if (failed) throw failed.reason;
      const gatewayEntry = GATEWAY_ROOT ? path.relative(ROOT, path.join(GATEWAY_ROOT, 'gateway/src/main.ts')) : 'gateway/src/main.ts';
      const gatewayEnv = { ...env, WS_MAX_SOCKETS_PER_ADDRESS: String(SOCKETS_PER_ADDRESS + 100), ...(GATEWAY_ROOT ? { SUPERGRAPH_FILE: path.join(ROOT, 'supergraph.graphql') } : {}) };
      const gateway = await startService('gateway', gatewayEntry, gatewayEnv, ports.gateway, '/health');
      services.push(gateway);
      const pid = gateway.child.pid!;
      say(`catalog, inventory and the gateway ${gateway.url}${GATEWAY_ROOT ? ` (from ${GATEWAY_ROOT})` : ''} started; gateway RSS ${mib(rssMiB(pid))}`);

      // An admin's token signed with the run's secret: the auth service is not needed for this.
      const jwt = await JwtService.create(loadConfig(jwtConfigShape, { JWT_SECRET: secret }));
      const token = await jwt.signAccess({ id: randomUUID(), role: 'ADMIN' });
      const must = async (query: string, variables: Record<string, unknown>) => {
        const response = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
        const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown };
        if (body.errors || !body.data) throw new Error(`${query.slice(0, 40)}: ${JSON.stringify(body.errors)}`);
        return body.data;
      };
      const productIds: string[] = [];
      for (let i = 0; i < PRODUCTS; i += 1) {
        const { createProduct } = await must('mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }', {
          input: { sku: `SUB-${i}-${randomBytes(3).toString('hex')}`, name: `Bench lamp ${i}`, category: 'bench', price: { amount: 1000 + i, currency: 'EUR' } },
        });
        await must('mutation($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId } }', { input: { productId: createProduct.id, onHand: 100 } });
        productIds.push(createProduct.id as string);
      }
      say(`${PRODUCTS} products with stock`);

      const channel = liveChannel(prefix, 'stockUpdated');
      const publish = (productId: string, level: number) =>
        redis.publish(channel, JSON.stringify({ productId, onHand: level, reserved: 0, available: level, lowStockThreshold: 0, version: level, at: new Date().toISOString() }));
      const perLoad = Math.ceil(CLIENTS / LOAD_PROCESSES);
      for (let i = 0; i < LOAD_PROCESSES; i += 1) loads.push(new LoadProcess(i * perLoad));
      const counts = loads.map((load) => Math.min(perLoad, CLIENTS - load.first));
      const watching = (pick: (client: number) => string) => loads.map((load, i) => Array.from({ length: counts[i]! }, (_, j) => pick(load.first + j)));

      /** Probes (available -1) the products until every client has had one: then each subscription is live. */
      const untilLive = async (products: string[]) => {
        const deadline = Date.now() + 120_000;
        for (;;) {
          const live = (await Promise.all(loads.map((load) => load.ask<{ type: 'live'; live: number }>({ type: 'live' })))).reduce((sum, reply) => sum + reply.live, 0);
          if (live >= CLIENTS) break;
          if (Date.now() > deadline) throw new Error(`only ${live} of ${CLIENTS} subscriptions live after 120 s`);
          await Promise.all(products.map((productId) => publish(productId, -1)));
          await sleep(1000);
        }
        await sleep(1500); // the last probes delivered before measuring
        await Promise.all(loads.map((load) => load.ask({ type: 'records' })));
      };
      const collect = async () => {
        const replies = await Promise.all(loads.map((load) => load.ask<Extract<FromLoad, { type: 'records' }>>({ type: 'records' })));
        const closed: Record<string, number> = {};
        for (const reply of replies) for (const [code, n] of Object.entries(reply.closed)) closed[code] = (closed[code] ?? 0) + n;
        return { deliveries: replies.flatMap((reply, i) => reply.deliveries.map(([client, available, at]) => [loads[i]!.first + client, available, at] as Delivery)), errors: replies.reduce((sum, reply) => sum + reply.errors, 0), closed };
      };

      // (a) everyone watches one product
      let started0 = Date.now();
      const firstWatch = watching(() => productIds[0]!);
      const connected = await Promise.all(loads.map((load, i) => load.ask<Extract<FromLoad, { type: 'connected' }>>({ type: 'connect', url: gateway.url, first: load.first, productIds: firstWatch[i]! })));
      connectSeconds = (Date.now() - started0) / 1000;
      const open = connected.reduce((sum, reply) => sum + reply.open, 0);
      say(`${open} of ${CLIENTS} clients connected and subscribed in ${connectSeconds.toFixed(1)} s${connected.some((c) => c.failed) ? ` (${connected.map((c) => c.firstError).filter(Boolean)[0]})` : ''}`);
      started0 = Date.now();
      await untilLive([productIds[0]!]);
      say(`all live in ${((Date.now() - started0) / 1000).toFixed(1)} s; gateway RSS ${mib(rssMiB(pid))}`);

      if (SCENARIOS.includes('a')) {
        for (let change = 1; change <= CHANGES; change += 1) {
          const rssSubscribed = rssMiB(pid);
          const sampler = rssSampler(pid);
          const level = MARKER + change;
          const publishedAt = Date.now();
          await publish(productIds[0]!, level);
          const deadline = Date.now() + 60_000;
          let records = await collect();
          const deliveries = [...records.deliveries];
          while (deliveries.length < CLIENTS && Date.now() < deadline) {
            await sleep(200);
            records = await collect();
            deliveries.push(...records.deliveries);
          }
          await sleep(300);
          const rest = await collect();
          deliveries.push(...rest.deliveries);
          const outcome: Outcome = {
            label: `(a) change ${change}`,
            expected: CLIENTS,
            delivered: deliveries.filter(([, available]) => available === level).length,
            latencies: deliveries.filter(([, available]) => available === level).map(([, , at]) => at - publishedAt),
            errors: records.errors + rest.errors,
            closed: rest.closed,
            rssSubscribed,
            rssDelivering: sampler.stop(),
          };
          outcomes.push(outcome);
          const s = summary(outcome);
          say(`${outcome.label}: ${outcome.delivered}/${outcome.expected} delivered, p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, max ${ms(s.max)}, errors ${outcome.errors}, RSS ${mib(outcome.rssSubscribed)} -> ${mib(outcome.rssDelivering)}`);
          await sleep(2000);
        }
      }

      if (SCENARIOS.includes('b')) {
        const spread = watching((client) => productIds[client % PRODUCTS]!);
        await Promise.all(loads.map((load, i) => load.ask({ type: 'resubscribe', productIds: spread[i]! })));
        await untilLive(productIds);
        const watchers = new Map<string, number>();
        for (let client = 0; client < CLIENTS; client += 1) watchers.set(productIds[client % PRODUCTS]!, (watchers.get(productIds[client % PRODUCTS]!) ?? 0) + 1);
        const rssSubscribed = rssMiB(pid);
        const sampler = rssSampler(pid);
        const publishedAt = new Map<number, number>();
        let expected = 0;
        const total = RATE * DURATION;
        const begin = Date.now();
        for (let k = 0; k < total; k += 1) {
          const due = begin + (k * 1000) / RATE;
          if (due > Date.now()) await sleep(due - Date.now());
          const productId = productIds[k % PRODUCTS]!;
          const level = MARKER + k;
          publishedAt.set(level, Date.now());
          await publish(productId, level);
          expected += watchers.get(productId) ?? 0;
        }
        // Until everything expected came, or nothing more for 3 s (a minute at most): late is not lost.
        const records = await collect();
        for (let quiet = 0, waited = 0; records.deliveries.length < expected && quiet < 3000 && waited < 60_000; waited += 500) {
          await sleep(500);
          const more = await collect();
          quiet = more.deliveries.length > 0 ? 0 : quiet + 500;
          records.deliveries.push(...more.deliveries);
          records.errors += more.errors;
          records.closed = more.closed;
        }
        const latencies = records.deliveries.filter(([, available]) => publishedAt.has(available)).map(([, available, at]) => at - publishedAt.get(available)!);
        // A slow tail from a few stalls (GC, a busy core) shows as a few slow events, not slow deliveries everywhere.
        const slowEvents = new Map<number, number>();
        for (const [, available, at] of records.deliveries) if (publishedAt.has(available) && at - publishedAt.get(available)! > 250) slowEvents.set(available - MARKER, Math.max(slowEvents.get(available - MARKER) ?? 0, at - publishedAt.get(available)!));
        say(`(b) events with a delivery over 250 ms: ${slowEvents.size} of ${total}${slowEvents.size ? ` (${[...slowEvents].slice(0, 12).map(([k, v]) => `#${k} at ${((publishedAt.get(MARKER + k)! - begin) / 1000).toFixed(1)} s: ${v} ms`).join(', ')})` : ''}`);
        const outcome: Outcome = { label: `(b) ${RATE}/s for ${DURATION} s`, expected, delivered: latencies.length, latencies, errors: records.errors, closed: records.closed, rssSubscribed, rssDelivering: sampler.stop() };
        outcomes.push(outcome);
        const s = summary(outcome);
        say(`${outcome.label}: ${outcome.delivered}/${outcome.expected} delivered, p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, max ${ms(s.max)}, errors ${outcome.errors}, RSS ${mib(outcome.rssSubscribed)} -> ${mib(outcome.rssDelivering)}`);
      }
      await Promise.all(loads.map((load) => load.ask({ type: 'close' })));
    });
  } finally {
    loads.forEach((load) => load.kill());
    redis.disconnect();
  }

  const rows = outcomes.map((outcome) => {
    const s = summary(outcome);
    const closed = Object.entries(outcome.closed).map(([code, n]) => `${n}× ${code}`).join(', ');
    return `| ${outcome.label} | ${outcome.delivered.toLocaleString('en')} / ${outcome.expected.toLocaleString('en')} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.max)} | ${outcome.errors}${closed ? ` (closed: ${closed})` : ''} | ${mib(outcome.rssSubscribed)} | ${mib(outcome.rssDelivering)} |`;
  });
  const table = ['| run | delivered | p50 | p99 | max | errors | gateway RSS subscribed | gateway RSS peak delivering |', '|---|---:|---:|---:|---:|---:|---:|---:|', ...rows].join('\n');
  console.log(`\n${table}\n`);
  if (!WRITE_DOC) return;
  const cpu = os.cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? '?';
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  if (GATEWAY_ROOT) {
    // The same load against another checkout's gateway: kept in a section of its own, next to the current one.
    const commit = fs.existsSync(path.join(GATEWAY_ROOT, 'COMMIT')) ? fs.readFileSync(path.join(GATEWAY_ROOT, 'COMMIT'), 'utf8').trim() : GATEWAY_ROOT;
    writeSection(
      'subscriptions-before',
      [
        `### Before shared execution (gateway of ${commit})`,
        '',
        `Run on ${when} UTC. Command: \`BENCH_GATEWAY_ROOT=<checkout of ${commit}> BENCH_CLIENTS=${CLIENTS} BENCH_PRODUCTS=${PRODUCTS} BENCH_DURATION=${DURATION} npm run bench:subscriptions\` (same machine and load as above, ${CLIENTS.toLocaleString('en')} clients; connected and subscribed in ${connectSeconds.toFixed(1)} s). Every subscriber's event was executed through the gateway and the subgraphs on its own.`,
        '',
        table,
      ].join('\n'),
    );
    return say('docs/benchmarks.md updated (before)');
  }
  writeSection(
    'subscriptions',
    [
      '## Subscriptions fan-out (`npm run bench:subscriptions`)',
      '',
      `Run on ${when} UTC. Command: \`flock /work/wt/notes/bench.lock npm run bench:subscriptions\` (${CLIENTS.toLocaleString('en')} clients, ${PRODUCTS} products).`,
      '',
      `Machine: ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, Linux ${os.release()}; Node ${process.version}; 1-minute load average ${loadBefore.toFixed(1)} before the run. The gateway, the catalog and inventory subgraphs (one process each), PostgreSQL, Redis and ${LOAD_PROCESSES} load processes share those cores, on loopback.`,
      '',
      `Load: ${CLIENTS.toLocaleString('en')} graphql-ws subscribers (raw \`ws\` sockets, ${SOCKETS_PER_ADDRESS} per source address 127.0.0.2 and up), connected and subscribed in ${connectSeconds.toFixed(1)} s, all on one gateway process. Subscription: \`stockUpdated(productIds: [$id]) { productId available product { name price { amount } } }\` (the product's fields come from the catalog through the gateway's query planner). A change is published on the live channel in Redis as the inventory's outbox relay does; latency runs from the publish to each client's receipt.`,
      `(a) every client watches the same product; ${CHANGES} changes, each after the last was delivered. (b) client i watches product i mod ${PRODUCTS} (${CLIENTS / PRODUCTS} subscribers each); ${RATE} changes a second, round robin over the products, for ${DURATION} s.`,
      '',
      table,
    ].join('\n'),
  );
  say('docs/benchmarks.md updated');
}

if (process.argv.includes('--load')) runLoad();
else
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
