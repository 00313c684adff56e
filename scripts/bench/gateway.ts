/**
 * npm run bench:gateway: our gateway against a stock @apollo/gateway and Hive Gateway, doing the same work.
 *
 * Creates its own database (shop_bench_*), seeds a catalog with stock, starts the five subgraphs
 * once, then three gateways in front of those same subgraphs, all on loopback: ours (response cache
 * off), a stock @apollo/gateway + @apollo/server standalone with default settings
 * (scripts/bench/stock-gateway.ts), and Hive Gateway (`hive-gateway supergraph`, its defaults). Each
 * answers the anonymous storefront query once (the three answers must be equal), is warmed up, then
 * autocannon measures them in alternating rounds (A, B, C, A, B, C, ...), so that whatever else
 * the machine does falls on all three alike. It prints req/s, p50/p95/p99 and the CPU each process
 * used per request, with ratios to ours, writes docs/benchmarks.md, stops everything and drops the
 * database.
 *
 *   flock /work/wt/notes/bench.lock npm run bench:gateway
 *   npm run bench:gateway -- --no-write      # do not touch docs/benchmarks.md
 *   npm run bench:gateway -- --only=ours     # measure only some gateways (ours, ours-nodedupe, apollo, hive; comma-separated)
 *
 * Tunables (environment): BENCH_ROUNDS per gateway (3), BENCH_DURATION seconds per round (8),
 * BENCH_CONNECTIONS (20), BENCH_WARMUP seconds per gateway (4), BENCH_PRODUCTS (3000),
 * BENCH_PROFILE=gateway,gateway-nodedupe,catalog,... runs those processes with `node --cpu-prof` (written when they stop, in
 * BENCH_PROFILE_DIR/<name>/, default .data/profiles; open them in Chrome DevTools or summarise them with
 * scripts/bench/profile-summary.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import autocannon from 'autocannon';
import { ROOT, freePort, percentile, pgConfig, postgresVersion, say, serviceEnv, startProcess, startService, withBenchDatabase, writeSection, type Service } from './harness';
import { seed as seedCatalog } from './catalog';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 4);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 3000);
const PROFILE = new Set((process.env.BENCH_PROFILE ?? '').split(',').filter(Boolean));
const PROFILE_DIR = path.resolve(ROOT, process.env.BENCH_PROFILE_DIR ?? '.data/profiles');
const WRITE_DOC = !process.argv.includes('--no-write');
const ONLY = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length).split(',');

export const STOREFRONT = 'query Storefront { products(first: 20) { edges { node { id name price { amount currency } stock { available } } } } }';
const BODY = JSON.stringify({ query: STOREFRONT });
const SUBGRAPHS = ['auth', 'catalog', 'inventory', 'order', 'notification'] as const;

// ---------- data and services ----------

/** Every seeded product gets an inventory item: on hand where the catalog says in stock, none where it does not. */
async function seedStock(databaseUrl: string): Promise<number> {
  const client = new pg.Client(pgConfig(databaseUrl));
  await client.connect();
  try {
    const { rowCount } = await client.query(
      `INSERT INTO inventory.inventory_items (product_id, on_hand, updated_at)
       SELECT id, CASE WHEN in_stock THEN 1 + abs(hashtext(sku)) % 500 ELSE 0 END, now() FROM catalog.products`,
    );
    await client.query('VACUUM (ANALYZE) inventory.inventory_items');
    return rowCount ?? 0;
  } finally {
    await client.end();
  }
}

/** The committed supergraph with its routing URLs pointed at the subgraphs this run started. */
function supergraphFor(urls: Record<string, string>): string {
  let sdl = fs.readFileSync(path.join(ROOT, 'supergraph.graphql'), 'utf8');
  for (const [name, url] of Object.entries(urls)) {
    sdl = sdl.replace(new RegExp(`(@join__graph\\(name: "${name}", url: ")[^"]*(")`), `$1${url}$2`);
  }
  const file = path.join(os.tmpdir(), `bench-supergraph-${process.pid}.graphql`);
  fs.writeFileSync(file, sdl);
  process.once('exit', () => fs.rmSync(file, { force: true }));
  return file;
}

const profiled = (name: string): string[] =>
  // One folder per process: tsx's loader thread writes a profile of its own next to the main thread's (the larger one).
  PROFILE.has(name) ? ['--cpu-prof', `--cpu-prof-dir=${path.join(PROFILE_DIR, name)}`] : [];

async function answers(url: string): Promise<boolean> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, signal: AbortSignal.timeout(2000) });
  return response.ok;
}

// ---------- CPU per process, from /proc ----------

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU milliseconds (user + system) used so far by `pid` and its descendants. */
function cpuMs(pid: number): number {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended meanwhile
    }
  }
  let total = 0;
  const visit = (id: number) => {
    total += stats.get(id)?.ticks ?? 0;
    for (const [child, stat] of stats) if (stat.ppid === id) visit(child);
  };
  visit(pid);
  return total * TICK_MS;
}

/** Busy milliseconds of the whole machine (all cores), from /proc/stat. */
function machineBusyMs(): number {
  const [, user, nice, system, , , irq, softirq, steal] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) * TICK_MS;
}

// ---------- measuring ----------

interface Round {
  requests: number;
  seconds: number;
  latencies: number[];
  failures: number;
  /** CPU ms during the round: the gateway measured, the subgraphs together, the whole machine. */
  gatewayCpu: number;
  subgraphCpu: number;
  machineCpu: number;
}

async function round(gateway: Service, subgraphs: Service[], seconds: number): Promise<Round> {
  const latencies: number[] = [];
  const pid = gateway.child.pid!;
  const before = { gateway: cpuMs(pid), subgraphs: subgraphs.reduce((sum, s) => sum + cpuMs(s.child.pid!), 0), machine: machineBusyMs() };
  const instance = autocannon({
    url: gateway.url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
    connections: CONNECTIONS,
    duration: seconds,
    // A GraphQL error comes with HTTP 200: count it as a failure too.
    verifyBody: (body) => body.startsWith('{"data":{"products"') && !body.includes('"errors"'),
  });
  instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  const result = await instance;
  const after = { gateway: cpuMs(pid), subgraphs: subgraphs.reduce((sum, s) => sum + cpuMs(s.child.pid!), 0), machine: machineBusyMs() };
  return {
    requests: latencies.length,
    seconds: result.duration,
    latencies,
    failures: result.errors + result.timeouts + result.non2xx + result.mismatches,
    gatewayCpu: after.gateway - before.gateway,
    subgraphCpu: after.subgraphs - before.subgraphs,
    machineCpu: after.machine - before.machine,
  };
}

interface Summary {
  name: string;
  label: string;
  perSecond: number;
  roundsPerSecond: number[];
  p50: number;
  p95: number;
  p99: number;
  requests: number;
  failures: number;
  gatewayCpuPerRequest: number;
  subgraphCpuPerRequest: number;
  machineCpuPerRequest: number;
}

function summarise(name: string, label: string, rounds: Round[]): Summary {
  const latencies = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const requests = rounds.reduce((sum, r) => sum + r.requests, 0);
  const total = (key: 'gatewayCpu' | 'subgraphCpu' | 'machineCpu') => rounds.reduce((sum, r) => sum + r[key], 0) / requests;
  return {
    name,
    label,
    perSecond: requests / rounds.reduce((sum, r) => sum + r.seconds, 0),
    roundsPerSecond: rounds.map((r) => r.requests / r.seconds),
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
    requests,
    failures: rounds.reduce((sum, r) => sum + r.failures, 0),
    gatewayCpuPerRequest: total('gatewayCpu'),
    subgraphCpuPerRequest: total('subgraphCpu'),
    machineCpuPerRequest: total('machineCpu'),
  };
}

// ---------- report ----------

const ms = (value: number) => `${value.toFixed(1)} ms`;

function table(summaries: Summary[]): string {
  const ours = summaries.find((s) => s.name === 'ours');
  const rows = summaries.map((s) => {
    const ratio = ours && s !== ours ? `${(ours.perSecond / s.perSecond).toFixed(2)}×` : '—';
    return `| ${s.label} | ${Math.round(s.perSecond).toLocaleString('en')} | ${s.roundsPerSecond.map((r) => Math.round(r)).join(' / ')} | ${ratio} | ${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.p99)} | ${s.gatewayCpuPerRequest.toFixed(2)} ms | ${s.subgraphCpuPerRequest.toFixed(2)} ms | ${s.machineCpuPerRequest.toFixed(2)} ms | ${s.requests.toLocaleString('en')} | ${s.failures} |`;
  });
  return [
    '| gateway | requests/s | per round | ours ÷ it | p50 | p95 | p99 | gateway CPU / req | subgraphs CPU / req | machine CPU / req | requests | failures |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

// ---------- the run ----------

async function main(): Promise<void> {
  if (PROFILE.size) fs.mkdirSync(PROFILE_DIR, { recursive: true });
  await withBenchDatabase(false, async (databaseUrl, services) => {
    let started = Date.now();
    say(`seeding ${PRODUCTS.toLocaleString('en')} products with stock`);
    await seedCatalog(databaseUrl, PRODUCTS);
    const items = await seedStock(databaseUrl);
    say(`seeded ${items.toLocaleString('en')} products and inventory items in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const ports = Object.fromEntries(await Promise.all(SUBGRAPHS.map(async (name) => [name, await freePort()] as const))) as Record<(typeof SUBGRAPHS)[number], number>;
    const { env, urls } = serviceEnv(databaseUrl, ports);
    // auth and notification refuse production without a Telegram bot token; they serve nothing this query asks for.
    const development = new Set(['auth', 'notification']);
    started = Date.now();
    const starts = await Promise.allSettled(
      SUBGRAPHS.map((name) =>
        startService(name, `subgraphs/${name}/src/main.ts`, { ...env, ...(development.has(name) ? { NODE_ENV: 'development' } : {}) }, ports[name], '/ready', undefined, profiled(name)),
      ),
    );
    for (const start of starts) if (start.status === 'fulfilled') services.push(start.value);
    const failed = starts.find((start) => start.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const subgraphs = [...services];
    say(`five subgraphs started in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const supergraphFile = supergraphFor(urls);
    const startOurs = async (name: string, profileName: string, extra: Record<string, string>) => {
      const port = await freePort();
      const gatewayEnv = { ...env, GATEWAY_PORT: String(port), SUPERGRAPH_FILE: supergraphFile, GATEWAY_RESPONSE_CACHE: 'false', ...extra };
      return startService(name, 'gateway/src/main.ts', gatewayEnv, port, '/health', undefined, profiled(profileName));
    };
    const contenders: Array<{ name: string; label: string; start: () => Promise<Service> }> = [
      {
        name: 'ours',
        label: 'ours (gateway/src/app.ts)',
        start: () => startOurs('ours', 'gateway', {}),
      },
      {
        // Our production defaults: the shared response cache (Redis) on, evicted by the domain events.
        name: 'ours-cache',
        label: 'ours, response cache on (production default)',
        start: () => startOurs('ours-cache', 'gateway-cache', { GATEWAY_RESPONSE_CACHE: 'true' }),
      },
      {
        // The same gateway with no in-flight deduplication: every request makes its own subgraph fetches, as the stock gateway does.
        name: 'ours-nodedupe',
        label: 'ours, SUBGRAPH_DEDUPE_QUERIES=false',
        start: () => startOurs('ours-nodedupe', 'gateway-nodedupe', { SUBGRAPH_DEDUPE_QUERIES: 'false' }),
      },
      {
        name: 'apollo',
        label: 'stock @apollo/gateway',
        start: async () => {
          const port = await freePort();
          const url = `http://127.0.0.1:${port}/graphql`;
          return startProcess('apollo', ['--import', 'tsx', path.join(ROOT, 'scripts/bench/stock-gateway.ts')], { ...env, SUPERGRAPH_FILE: supergraphFile, PORT: String(port) }, port, () => answers(url), () => {});
        },
      },
      {
        name: 'hive',
        label: 'Hive Gateway 2.15.1',
        start: async () => {
          const port = await freePort();
          const bin = path.join(ROOT, 'node_modules/@graphql-hive/gateway/dist/bin.js');
          // --fork 1 is the CLI's documented default, spelled out so that NODE_ENV cannot change it.
          return startProcess('hive', [bin, 'supergraph', supergraphFile, '--host', '127.0.0.1', '--port', String(port), '--fork', '1'], { NODE_ENV: 'production' }, port, async () => (await fetch(`http://127.0.0.1:${port}/readiness`)).ok, () => {});
        },
      },
    ].filter((contender) => !ONLY || ONLY.includes(contender.name));

    const gateways: Service[] = [];
    for (const contender of contenders) {
      const service = await contender.start();
      services.push(service);
      gateways.push(service);
    }
    say(`gateways: ${gateways.map((g) => `${g.name} ${g.url}`).join(', ')}`);

    // The same answer from each, or the comparison means nothing.
    const bodies = await Promise.all(
      gateways.map(async (g) => {
        const response = await fetch(g.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
        return { name: g.name, body: (await response.json()) as { data?: { products: { edges: unknown[] } }; errors?: unknown } };
      }),
    );
    for (const { name, body } of bodies) {
      if (!body.data || body.errors) throw new Error(`${name} answered with errors: ${JSON.stringify(body.errors)}`);
      if (JSON.stringify(body) !== JSON.stringify(bodies[0]!.body)) throw new Error(`${name} answered differently from ${bodies[0]!.name}`);
    }
    say(`all answer the storefront query alike (${bodies[0]!.body.data!.products.edges.length} products)`);

    for (const g of gateways) {
      say(`warming up ${g.name} for ${WARMUP} s`);
      await round(g, subgraphs, WARMUP);
    }
    const loadBefore = os.loadavg()[0]!;
    const rounds = new Map<string, Round[]>(gateways.map((g) => [g.name, []]));
    for (let i = 1; i <= ROUNDS; i++) {
      for (const g of gateways) {
        const result = await round(g, subgraphs, DURATION);
        rounds.get(g.name)!.push(result);
        say(`round ${i}/${ROUNDS} ${g.name}: ${Math.round(result.requests / result.seconds)} req/s, gateway ${(result.gatewayCpu / result.requests).toFixed(2)} ms CPU/req, subgraphs ${(result.subgraphCpu / result.requests).toFixed(2)} ms`);
      }
    }
    const summaries = contenders.map((c) => summarise(c.name, c.label, rounds.get(c.name)!));
    console.log(`\n${table(summaries)}\n`);

    const ours = summaries.find((s) => s.name === 'ours');
    const verdicts: string[] = [];
    for (const [name, target] of [['apollo', 1.3], ['hive', 1.0], ['ours-nodedupe', 0]] as const) {
      const peer = summaries.find((s) => s.name === name);
      if (!ours || !peer) continue;
      if (!target) {
        verdicts.push(`vs ${peer.label}: ${(ours.perSecond / peer.perSecond).toFixed(2)}× req/s: what sharing identical in-flight subgraph queries adds here (20 connections asking the same thing)`);
        continue;
      }
      const ratio = ours.perSecond / peer.perSecond;
      verdicts.push(`vs ${peer.label}: ${ratio.toFixed(2)}× req/s (goal ≥ ${target.toFixed(1)}×: ${ratio >= target ? 'met' : 'MISSED'}), p99 ${ms(ours.p99)} vs ${ms(peer.p99)} (${ours.p99 <= peer.p99 ? 'no worse' : 'WORSE'})`);
    }
    // Goal 2: our production defaults (response cache on) against Hive Gateway at its defaults.
    const cached = summaries.find((s) => s.name === 'ours-cache');
    const hive = summaries.find((s) => s.name === 'hive');
    if (cached && hive) {
      const ratio = cached.perSecond / hive.perSecond;
      verdicts.push(`with the response cache vs ${hive.label}: ${ratio.toFixed(2)}× req/s (goal ≥ 3.0×: ${ratio >= 3 ? 'met' : 'MISSED'}), p99 ${ms(cached.p99)} vs ${ms(hive.p99)}`);
    }
    for (const verdict of verdicts) say(verdict);
    if (summaries.some((s) => s.failures > 0)) throw new Error('some requests failed: see the failures column');

    if (WRITE_DOC && !ONLY) {
      const cpus = os.cpus();
      const section = [
        '## Gateways side by side (`npm run bench:gateway`)',
        '',
        `Run on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. Command: \`flock /work/wt/notes/bench.lock npm run bench:gateway\` (each gateway warmed up ${WARMUP} s, then ${ROUNDS} rounds of ${DURATION} s each, alternating ${gateways.map((g) => g.name).join(', ')}, ...; ${CONNECTIONS} connections).`,
        '',
        `Machine: ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.type()} ${os.release()}; Node ${process.version}, PostgreSQL ${await postgresVersion(databaseUrl)}, Redis on loopback; 1-minute load average ${loadBefore.toFixed(1)} before the rounds. autocannon, the gateway under load, the five subgraphs (one process each) and PostgreSQL share those cores; the other gateways sit idle.`,
        '',
        `Data: ${PRODUCTS.toLocaleString('en')} generated products, each with an inventory item (~70% in stock). Query (anonymous; the response cache is off except for the "response cache on" row, where after the warm-up every request is a hit that the Redis tag check still validates): \`${STOREFRONT}\`: one catalog fetch, then one inventory \`_entities\` fetch for the 20 products.`,
        '',
        'The gateways: ours (`gateway/src/app.ts` with `GATEWAY_RESPONSE_CACHE=false`: identity, signed internal token to the subgraphs, CSRF prevention, operation and mutation limits, error masking; once more with `SUBGRAPH_DEDUPE_QUERIES=false`, which makes it send every subgraph fetch like the stock gateway does, where Hive Gateway shares identical in-flight ones by default), a stock `@apollo/gateway` 2.14 in `@apollo/server` 5 `startStandaloneServer` with default settings (`scripts/bench/stock-gateway.ts`), and Hive Gateway 2.15.1 (`hive-gateway supergraph <file> --fork 1`, its documented defaults); each reads the same supergraph file and calls the same subgraph processes. CPU per request comes from /proc (user + system time of the process and its children during the rounds); "machine" includes PostgreSQL and autocannon.',
        '',
        table(summaries),
        '',
        ...verdicts.map((v) => `- ours ${v}`),
      ].join('\n');
      writeSection('gateway', section);
      say('wrote docs/benchmarks.md');
    }
  });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`[bench] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  });
}
