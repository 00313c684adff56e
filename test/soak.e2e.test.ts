import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { renderReport } from '../scripts/soak/report';
import { SHORT_SCHEDULE, machine, runSoak, type SoakReport } from '../scripts/soak/run';

/**
 * `npm run soak` in short: the whole shop as processes on this file's database, under a minute of
 * load by a few people, while each kind of fault happens once (a process killed, Redis restarted,
 * a service's PostgreSQL sessions terminated, the Bot API answering 429 and 500), and every
 * invariant checked once it has settled.
 */
describe('the shop under load while things fail (short soak)', () => {
  let report: SoakReport;

  beforeAll(async () => {
    const logDir = fs.mkdtempSync(path.join(process.env.SHOP_TEST_LOG_DIR ?? os.tmpdir(), 'soak-'));
    report = await runSoak({
      databaseUrl: process.env.DATABASE_URL!,
      durationSeconds: 45,
      customers: 4,
      browsers: 2,
      subscribers: 40,
      newcomers: 4,
      products: 8,
      faults: SHORT_SCHEDULE,
      warmupSeconds: 5,
      tailSeconds: 8,
      outageMs: 4000,
      settleTimeoutMs: 60_000,
      logDir,
      say: () => undefined,
    });
    // What a failure shows: the whole report, as npm run soak prints it.
    if (!report.ok) console.log(renderReport(report, machine()));
  }, 600_000);

  it('injects each kind of fault once, and each recovers', () => {
    expect(report.faults.map((f) => f.fault)).toEqual(['SIGKILL order', 'Bot API 429 (retry_after 3)', 'pg_terminate_backend(shop_inventory)', 'Redis stopped and started', 'Bot API 500', 'SIGKILL gateway']);
    expect(report.faults.filter((f) => f.recoveredAt === undefined)).toEqual([]);
  });

  it('served people throughout: orders placed, confirmed by the API and the button, cancelled; subscribers fed', () => {
    expect(report.load.ordersPlaced).toBeGreaterThan(0);
    expect(report.load.confirmedByApi + report.load.confirmedByButton).toBeGreaterThan(0);
    expect(report.load.watchersOpened).toBeGreaterThanOrEqual(40);
    expect(report.traffic.served).toBeGreaterThan(100);
  });

  it('holds every invariant', () => {
    expect(report.invariants.filter((i) => !i.ok).map((i) => ({ name: i.name, violations: i.violations }))).toEqual([]);
    expect(report.invariants.map((i) => i.name)).toEqual([
      'every fault recovered, every process alive',
      'no product oversold',
      'on-hand + sold = initial + adjustments',
      'reserved = lines of orders awaiting confirmation',
      'catalog inStock = inventory truth',
      'every order terminal or awaiting with a live deadline',
      'no saga stuck',
      'every outbox row published',
      'every confirmed order notified to its owner exactly once',
      'no stream entry pending past its reclaim time (30 s)',
      'every subscriber that stayed connected got the last stock value',
      'errors only during faults, each with a code or a lost connection',
    ]);
  });
});
