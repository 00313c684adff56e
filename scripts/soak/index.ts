/**
 * npm run soak: the whole shop under load for a few minutes while its processes are killed, its Redis
 * restarted, its PostgreSQL sessions terminated and the Bot API fails; then the invariants.
 *
 * Creates its own database (shop_soak_*) on TEST_DATABASE_SERVER_URL's server, its own redis-server
 * (on a free port, so it can stop it) and a fake Telegram Bot API; starts the five subgraphs and the
 * gateway as child processes (their logs in .data/soak/<run>/); writes the report to docs/soak.md
 * (between its markers) and exits non-zero when an invariant fails.
 *
 *   npm run soak                          # 180 s of load, every fault of the full schedule
 *   npm run soak -- --duration 600        # longer (or SOAK_DURATION=600)
 *   npm run soak -- --no-write            # do not touch docs/soak.md
 *   npm run soak -- --keep                # keep the database afterwards, print its URL
 *
 * Tunables (environment): SOAK_CUSTOMERS (16), SOAK_BROWSERS (4), SOAK_SUBSCRIBERS (300), SOAK_NEWCOMERS (20), SOAK_PRODUCTS (24);
 * SOAK_SCHEDULE=short injects each kind of fault once (the test suite's schedule) instead of the full one;
 * SOAK_SCHEDULE=none, or a list (`kill:order,postgres:inventory,redis,telegram-429,telegram-500`), injects those.
 */
import path from 'node:path';
import { ROOT, withBenchDatabase } from '../bench/harness';
import { renderReport, writeSoakSection } from './report';
import { FULL_SCHEDULE, SHORT_SCHEDULE, defaultLogDir, machine, runSoak } from './run';
import type { Fault } from './faults';

const argument = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const number = (value: string | undefined, fallback: number): number => {
  const parsed = Number(value);
  return value !== undefined && Number.isFinite(parsed) && parsed > 0 ? parsed : fallback;
};

const DURATION = number(argument('duration') ?? process.env.SOAK_DURATION, 180);
const WRITE_DOC = !process.argv.includes('--no-write');
const KEEP = process.argv.includes('--keep');
const say = (line: string) => console.log(`[soak] ${line}`);

/** SOAK_SCHEDULE: full (default), short, none, or a list such as `kill:order,postgres:inventory,redis,telegram-429`. */
function schedule(value = 'full'): Fault[] {
  if (value === 'full') return FULL_SCHEDULE;
  if (value === 'short') return SHORT_SCHEDULE;
  if (value === 'none') return [];
  return value.split(',').map((item) => {
    const [kind, target] = item.split(':');
    return (target ? { kind, target } : { kind }) as Fault;
  });
}

async function main(): Promise<void> {
  let ok = false;
  await withBenchDatabase(
    KEEP,
    async (databaseUrl) => {
      const logDir = defaultLogDir(ROOT);
      say(`service logs in ${path.relative(ROOT, logDir)}`);
      const report = await runSoak({
        databaseUrl,
        durationSeconds: DURATION,
        customers: number(process.env.SOAK_CUSTOMERS, 16),
        browsers: number(process.env.SOAK_BROWSERS, 4),
        subscribers: number(process.env.SOAK_SUBSCRIBERS, 300),
        newcomers: number(process.env.SOAK_NEWCOMERS, 20),
        products: number(process.env.SOAK_PRODUCTS, 24),
        faults: schedule(process.env.SOAK_SCHEDULE),
        warmupSeconds: 10,
        tailSeconds: 15,
        outageMs: 6000,
        settleTimeoutMs: 90_000,
        logDir,
        say,
      });
      const markdown = renderReport(report, machine());
      console.log(`\n${markdown}\n`);
      if (WRITE_DOC) {
        writeSoakSection(path.join(ROOT, 'docs/soak.md'), markdown);
        say('docs/soak.md written');
      }
      ok = report.ok;
    },
    'shop_soak',
  );
  if (!ok) {
    say('an invariant failed (see above)');
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
