/**
 * npm run bench:catalog: how fast is product search with 100,000 products?
 *
 * Creates its own database (shop_bench_*) on TEST_DATABASE_SERVER_URL's server, applies the
 * migrations, seeds a reproducible catalog, starts the catalog subgraph and a gateway as child
 * processes (as `npm start` does), measures a search query with autocannon on loopback straight at
 * the subgraph and through the gateway, prints the numbers, writes them to docs/benchmarks.md, and
 * drops the database.
 *
 *   npm run bench:catalog                    # the whole run
 *   npm run bench:catalog -- --explain       # also print EXPLAIN ANALYZE of each statement for a few searches
 *   npm run bench:catalog -- --no-write      # do not touch docs/benchmarks.md
 *   npm run bench:catalog -- --keep          # keep the database afterwards (to profile it), print its URL
 *
 * Tunables (environment): BENCH_PRODUCTS (100000), BENCH_DURATION seconds per scenario (12),
 * BENCH_CONNECTIONS (10), BENCH_WARMUP seconds (3); BENCH_PROFILE=catalog,gateway runs those processes with
 * `node --cpu-prof` (written when they stop, in BENCH_PROFILE_DIR/<name>/, default .data/profiles; summarise the
 * larger file with `npx tsx scripts/bench/profile-summary.ts <file>`).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import autocannon from 'autocannon';
import { ROOT, cpuPerUnit, cpuSnapshot, freePort, percentile, pgConfig, postgresVersion, say, startService, withBenchDatabase, writeSection, type Service } from './harness';
import { JwtService } from '../../kernel/src/jwt';
import { createPrisma, Prisma, type PrismaClient } from '../../kernel/src/prisma';
import { dictionaryWords } from '../../subgraphs/catalog/src/search';
import { createCatalogServices } from '../../subgraphs/catalog/src/app';
import { CATEGORIES, SEARCHES, seedProduct, seededRandom, type SeedProduct } from './catalog-data';

const SEED = 20261124;
const TARGET_P95_MS = 20;

const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 100_000);
const DURATION = Number(process.env.BENCH_DURATION ?? 12);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const EXPLAIN = process.argv.includes('--explain');
const WRITE_DOC = !process.argv.includes('--no-write');
const KEEP = process.argv.includes('--keep');
const PROFILE = new Set((process.env.BENCH_PROFILE ?? '').split(',').filter(Boolean));
const PROFILE_DIR = path.resolve(ROOT, process.env.BENCH_PROFILE_DIR ?? '.data/profiles');
// One folder per process: tsx's loader thread writes a profile of its own next to the main thread's (the larger one).
const profiled = (name: string): string[] => (PROFILE.has(name) ? ['--cpu-prof', `--cpu-prof-dir=${path.join(PROFILE_DIR, name)}`] : []);

export const QUERY = /* GraphQL */ `query Search($search: String!, $category: String!) {
  products(filter: { search: $search, category: $category, inStock: true }, first: 20) {
    totalCount
    edges { node { id name price { amount } } }
  }
}`;

// ---------- database ----------

const INSERT_PRODUCTS = `
  INSERT INTO catalog.products (id, sku, name, description, category, price_amount, currency, attributes, images, in_stock, created_at, updated_at)
  SELECT gen_random_uuid(), t.sku, t.name, t.description, t.category, t.price, 'USD', t.attributes::jsonb,
         ARRAY(SELECT jsonb_array_elements_text(t.images::jsonb)), t.in_stock, t.created_at, t.created_at
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::boolean[], $9::timestamptz[])
    AS t(sku, name, description, category, price, attributes, images, in_stock, created_at)`;

/** Multi-row inserts of 5,000 products on two connections; the search_vector trigger does the rest. Also seeds bench:gateway. */
export async function seed(databaseUrl: string, count: number): Promise<{ words: number }> {
  const pool = new pg.Pool({ ...pgConfig(databaseUrl), max: 2 });
  try {
    const random = seededRandom(SEED);
    const now = Date.now();
    const products = Array.from({ length: count }, (_, i) => seedProduct(i + 1, random, now));
    const batches: SeedProduct[][] = [];
    for (let i = 0; i < products.length; i += 5000) batches.push(products.slice(i, i + 5000));
    let done = 0;
    const insert = async (batch: SeedProduct[]) => {
      await pool.query(INSERT_PRODUCTS, [
        batch.map((p) => p.sku),
        batch.map((p) => p.name),
        batch.map((p) => p.description),
        batch.map((p) => p.category),
        batch.map((p) => p.priceAmount),
        batch.map((p) => JSON.stringify(p.attributes)),
        batch.map((p) => JSON.stringify(p.images)),
        batch.map((p) => p.inStock),
        batch.map((p) => p.createdAt),
      ]);
      done += batch.length;
      if (done % 20_000 === 0 || done === count) say(`  ${done.toLocaleString('en')} products`);
    };
    const queue = [...batches];
    await Promise.all([0, 1].map(async () => {
      for (let batch = queue.shift(); batch; batch = queue.shift()) await insert(batch);
    }));

    // The dictionary for typo correction, with the tokenizer the catalog itself uses.
    const words = dictionaryWords(products.flatMap((p) => [p.name, p.category, p.description]));
    for (let i = 0; i < words.length; i += 10_000) {
      await pool.query('INSERT INTO catalog.search_words (word) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [words.slice(i, i + 10_000)]);
    }
    await pool.query('VACUUM (ANALYZE) catalog.products');
    await pool.query('VACUUM (ANALYZE) catalog.product_search');
    await pool.query('VACUUM (ANALYZE) catalog.search_words');
    return { words: words.length };
  } finally {
    await pool.end();
  }
}

/** EXPLAIN ANALYZE of every statement the catalog runs for a few searches, run through its own services. */
async function explain(databaseUrl: string): Promise<void> {
  const base = createPrisma(databaseUrl, { max: 2 });
  try {
    const explaining = base.$extends({
      query: {
        $queryRaw: async ({ args, query }) => {
          const plan = await base.$queryRaw<Array<{ 'QUERY PLAN': string }>>(Prisma.sql`EXPLAIN (ANALYZE, BUFFERS) ${args}`);
          console.log(plan.map((row) => `    ${row['QUERY PLAN']}`).join('\n'));
          return query(args);
        },
      },
    }) as unknown as PrismaClient;
    const { listing } = createCatalogServices(explaining);
    for (const { search, category } of [SEARCHES[0]!, SEARCHES[2]!, SEARCHES[9]!]) {
      say(`EXPLAIN ANALYZE for ${JSON.stringify({ search, category })}:`);
      const page = await listing.list({ filter: { search, category, inStock: true }, first: 20 });
      await page.totalCount();
    }
  } finally {
    await base.$disconnect();
  }
}

// ---------- services ----------

// ---------- measuring ----------

interface Measurement {
  target: string;
  connections: number;
  requests: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  failures: number;
  /** CPU ms per request of each process (from /proc), when the services were given. */
  cpu?: string;
}

const measurementName = (m: Measurement) => `${m.target} at ${m.connections} connection${m.connections > 1 ? 's' : ''}`;

async function measure(target: string, url: string, headers: Record<string, string>, bodies: string[], connections: number, duration: number, services: Service[] = []): Promise<Measurement> {
  let next = 0;
  const cpuBefore = services.length ? cpuSnapshot(services) : undefined;
  const latencies: number[] = [];
  const instance = autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    connections,
    duration,
    requests: [{ setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }) }],
    // A GraphQL error comes with HTTP 200: count it as a failure too.
    verifyBody: (body) => body.startsWith('{"data":{"products"') && !body.includes('"errors"'),
  });
  instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  const result = await instance;
  const cpu = cpuBefore && cpuPerUnit(cpuBefore, cpuSnapshot(services), latencies.length);
  latencies.sort((a, b) => a - b);
  return {
    target,
    connections,
    requests: latencies.length,
    perSecond: latencies.length / result.duration,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
    max: latencies.at(-1) ?? NaN,
    failures: result.errors + result.timeouts + result.non2xx + result.mismatches,
    cpu,
  };
}

/** Each search once, checked: no errors, and what it finds (typos included). */
async function checkSearches(url: string, headers: Record<string, string>): Promise<Array<{ search: string; category: string; totalCount: number; top: string }>> {
  return Promise.all(
    SEARCHES.map(async ({ search, category }) => {
      const variables = { search, category };
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: QUERY, variables }) });
      const body = (await response.json()) as { data?: { products: { totalCount: number; edges: Array<{ node: { name: string } }> } }; errors?: unknown };
      if (!body.data) throw new Error(`${JSON.stringify(variables)} failed: ${JSON.stringify(body.errors)}`);
      return { ...variables, totalCount: body.data.products.totalCount, top: body.data.products.edges[0]?.node.name ?? '(none)' };
    }),
  );
}

// ---------- report ----------

const ms = (value: number) => `${value.toFixed(1)} ms`;

function table(measurements: Measurement[]): string {
  const rows = measurements.map(
    (m) => `| ${m.target} | ${m.connections} | ${Math.round(m.perSecond).toLocaleString('en')} | ${ms(m.p50)} | ${ms(m.p95)} | ${ms(m.p99)} | ${ms(m.max)} | ${m.requests.toLocaleString('en')} | ${m.failures} |`,
  );
  return ['| target | connections | requests/s | p50 | p95 | p99 | max | requests | failures |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|', ...rows].join('\n');
}

// ---------- the run ----------

async function main(): Promise<void> {
  await withBenchDatabase(KEEP, async (databaseUrl, services) => {

    let started = Date.now();
    say(`seeding ${PRODUCTS.toLocaleString('en')} products`);
    const { words } = await seed(databaseUrl, PRODUCTS);
    const seedSeconds = (Date.now() - started) / 1000;
    say(`seeded in ${seedSeconds.toFixed(1)} s (${words.toLocaleString('en')} dictionary words), analyzed`);
    if (EXPLAIN) await explain(databaseUrl);

    const jwtSecret = randomBytes(32).toString('hex');
    const [catalogPort, gatewayPort] = [await freePort(), await freePort()];
    const env = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      JWT_SECRET: jwtSecret,
      REDIS_KEY_PREFIX: `bench:${randomBytes(4).toString('hex')}:`,
    };
    started = Date.now();
    if (PROFILE.size) fs.mkdirSync(PROFILE_DIR, { recursive: true });
    const catalog = await startService('catalog', 'subgraphs/catalog/src/main.ts', { ...env, CATALOG_PORT: String(catalogPort) }, catalogPort, '/ready', undefined, profiled('catalog'));
    services.push(catalog);
    // No response cache: every search through the gateway reaches the catalog (the issue's rule: search results are not cached).
    const gateway = await startService('gateway', 'gateway/src/main.ts', { ...env, GATEWAY_PORT: String(gatewayPort), CATALOG_URL: catalog.url, GATEWAY_RESPONSE_CACHE: 'false' }, gatewayPort, '/health', undefined, profiled('gateway'));
    services.push(gateway);
    say(`catalog ${catalog.url}, gateway ${gateway.url} (started in ${((Date.now() - started) / 1000).toFixed(1)} s)`);

    // What the gateway sends a subgraph is a signed token; a service token costs the subgraph the same verification.
    const jwt = await JwtService.create({ ALGORITHM: 'HS256', JWT_SECRET: jwtSecret, JWT_ISSUER: 'shop-auth', ACCESS_TOKEN_EXPIRE_MINUTES: 30, REFRESH_TOKEN_EXPIRE_MINUTES: 60 });
    const subgraphHeaders = async () => ({ authorization: `Bearer ${await jwt.signService('bench')}` });

    const checked = await checkSearches(catalog.url, await subgraphHeaders());
    const viaGateway = await checkSearches(gateway.url, {});
    if (JSON.stringify(viaGateway) !== JSON.stringify(checked)) throw new Error('the gateway and the subgraph answered differently');
    console.table(checked);

    const bodies = SEARCHES.map(({ search, category }) => JSON.stringify({ query: QUERY, variables: { search, category } }));
    // One connection: the latency of a search on an idle system. CONNECTIONS: the throughput when
    // saturated, where latency is mostly queueing (autocannon keeps every connection busy).
    const measurements: Measurement[] = [];
    // Other work on the machine shows here: with a load average well above 0, compare runs by ratio, not absolutely.
    const loadBefore = os.loadavg()[0]!;
    for (const [target, url, headers] of [
      ['subgraph', catalog.url, await subgraphHeaders()],
      ['gateway', gateway.url, {}],
    ] as const) {
      say(`${target}: warming up ${WARMUP} s, then ${DURATION} s with 1 and with ${CONNECTIONS} connections`);
      await measure(target, url, headers, bodies, CONNECTIONS, WARMUP);
      for (const connections of [1, CONNECTIONS]) measurements.push(await measure(target, url, headers, bodies, connections, DURATION, services));
    }
    console.log(`\n${table(measurements)}\n`);
    for (const m of measurements) say(`CPU per search, ${measurementName(m)}, ms: ${m.cpu}`);
    const verdicts = measurements
      .filter((m) => m.target === 'subgraph')
      .map((m) => `${m.connections} connection${m.connections > 1 ? 's' : ''}: ${m.p95 < TARGET_P95_MS ? 'met' : 'MISSED'} (p95 ${ms(m.p95)})`);
    const verdict = verdicts.join('; ');
    say(`target p95 < ${TARGET_P95_MS} ms at the subgraph: ${verdict}`);
    if (measurements.some((m) => m.failures > 0)) throw new Error('some requests failed: see the failures column');

    if (WRITE_DOC) {
      const cpus = os.cpus();
      const section = [
        '## Catalog search (`npm run bench:catalog`)',
        '',
        `Run on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. Command: \`npm run bench:catalog\` (per target: a ${WARMUP} s warm-up, then ${DURATION} s with 1 connection and ${DURATION} s with ${CONNECTIONS}).`,
        '',
        `Machine: ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.type()} ${os.release()}; Node ${process.version}, PostgreSQL ${await postgresVersion(databaseUrl)}; 1-minute load average ${loadBefore.toFixed(1)} before the measurements. autocannon, the catalog subgraph, the gateway and PostgreSQL share those cores, on loopback.`,
        '',
        `Data: ${PRODUCTS.toLocaleString('en')} generated products (seed ${SEED}) in ${CATEGORIES.length} categories, ~70% in stock, ${words.toLocaleString('en')} dictionary words; seeded and analyzed in ${seedSeconds.toFixed(0)} s.`,
        '',
        `Query: \`products(filter: { search, category, inStock: true }, first: 20) { totalCount edges { node { id name price { amount } } } }\`, rotating through ${SEARCHES.length} searches, ${SEARCHES.filter((s) => s.kind === 'typo').length} of them misspelt and ${SEARCHES.filter((s) => s.kind === 'prefix').length} a bare prefix (see \`scripts/bench/catalog-data.ts\`). The subgraph is called with a service token, the gateway anonymously and with its response cache off (GATEWAY_RESPONSE_CACHE=false), so every search runs.`,
        '',
        table(measurements),
        '',
        `Target (p95 under ${TARGET_P95_MS} ms at the subgraph): ${verdict}. With one connection the latency is the service time of a search;`,
        `with ${CONNECTIONS}, every connection always has a request in flight, so latency is mostly queueing behind the others (about connections / throughput).`,
        '',
        'CPU per search of each process (ms, from /proc over each measurement; PostgreSQL is the sum of its processes and of the backends that ended meanwhile):',
        '',
        ...measurements.map((m) => `- ${measurementName(m)}: ${m.cpu}`),
      ].join('\n');
      writeSection('catalog', section);
      say(`wrote docs/benchmarks.md`);
    }
  });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`[bench] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  });
}
