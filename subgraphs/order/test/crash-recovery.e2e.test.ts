import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort, startStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { FakeTelegram } from '../../../test/support/fake-telegram';
import { useFileDatabase } from '../../../test/support/database';
import type { Failpoint } from '../src/failpoints';
import { CANCEL_ORDER, CONFIRM_ORDER, PLACE_ORDER, Shop, UNCAPPED, eventually, inventoryTrail, newKey, ok, type OrderCommand } from './order-support';

const ROOT = path.resolve(__dirname, '../../..');
/** How long one cold start (tsx compiling, Prisma, Redis) may take on a busy machine. */
const START_TIMEOUT_MS = 30_000;
/** Nine processes that die at a failpoint, then one that recovers their sagas: the test's timeout allows each its start, and two minutes besides. */
const COLD_STARTS = 10;

/** The order service as its own process (`node --import tsx subgraphs/order/src/main.ts`), as `npm start` runs it. */
class OrderProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly exited: Promise<NodeJS.Signals | number | null>,
  ) {}

  static async start(env: NodeJS.ProcessEnv, port: number): Promise<OrderProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'subgraphs/order/src/main.ts')], {
      cwd: ROOT,
      env: { ...env, ORDER_PORT: String(port) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the order process exited while starting (${child.exitCode ?? child.signalCode})`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(1000) })).ok) return new OrderProcess(child, exited);
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the order process was not ready within ${START_TIMEOUT_MS} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

type Expected = 'AWAITING_CONFIRMATION' | 'CONFIRMED' | 'CANCELLED' | 'FAILED';

interface Scenario {
  failpoint: Failpoint;
  /** Brings an order to the failpoint through the gateway; the request that reaches it dies with the process. */
  drive: () => Promise<{ key: string }>;
  /** Where the order must end once a process without failpoints has recovered it. */
  expected: Expected;
  lines: Line[];
}

/** An order line and the product's stock before the order. */
type Line = { productId: string; quantity: number; onHand: number };

const asInput = (lines: Line[]) => lines.map(({ productId, quantity }) => ({ productId, quantity }));

const ON_HAND = 10;

describe('crash recovery: the order service killed (SIGKILL) at each step of the saga, then restarted', () => {
  const adminPhone = randomPhone();
  let telegram: FakeTelegram;
  let stack: Stack;
  const prisma = useFileDatabase({ max: 2 });
  let shop: Shop;
  let customer: Session;
  let orderPort: number;
  let childEnv: NodeJS.ProcessEnv;
  const running: OrderProcess[] = [];

  beforeAll(async () => {
    // The gateway routes the order subgraph to a child process the test kills and restarts; the
    // stack's own order service stays idle (no worker rounds) so that only the child runs sagas.
    orderPort = await freePort();
    telegram = await FakeTelegram.start();
    stack = await startStack({
      telegram,
      env: { ADMIN_PHONES: adminPhone, ...UNCAPPED },
      serviceEnv: { gateway: { ORDER_URL: `http://127.0.0.1:${orderPort}/graphql` }, order: { ORDER_WORKER_INTERVAL_MS: '3600000' } },
    });
    // A short lease, so a dead process's sagas are resumed within a second.
    childEnv = { ...stack.env, ORDER_SAGA_LEASE_MS: '1000', ORDER_WORKER_INTERVAL_MS: '100' };
    shop = new Shop(stack, await login(stack, telegram, adminPhone));
    customer = await login(stack, telegram);
  });

  afterAll(async () => {
    await Promise.all(running.map((child) => child.stop()));
    await stack?.stop();
    await telegram?.close();
  });

  /** The order placed with `key` (the process may have died before answering with it). */
  const orderIdOf = async (key: string) => (await prisma.order.findUniqueOrThrow({ where: { userId_idempotencyKey: { userId: customer.userId, idempotencyKey: key } } })).id;

  async function placeDying(lines: Line[]): Promise<{ key: string }> {
    const key = newKey();
    const response = await stack.gql(PLACE_ORDER, { input: { lines: asInput(lines), idempotencyKey: key } }, { token: customer.accessToken });
    expect(response.errors).toBeDefined();
    return { key };
  }

  async function placeThenDying(mutation: OrderCommand, lines: Line[]): Promise<{ key: string }> {
    const key = newKey();
    const placed = ok(await stack.gql(PLACE_ORDER, { input: { lines: asInput(lines), idempotencyKey: key } }, { token: customer.accessToken })).placeOrder;
    expect(placed.status).toBe('AWAITING_CONFIRMATION');
    const response = await stack.gql(mutation, { id: placed.id }, { token: customer.accessToken });
    expect(response.errors).toBeDefined();
    return { key };
  }

  it('finishes or compensates every saga it had open, each step\'s effect exactly once', async () => {
    /** Fresh products per scenario, so each one's stock is its own; `short` has too little of its second line. */
    const lines = async (kind: 'plenty' | 'short'): Promise<Line[]> => [
      { productId: await shop.product({ onHand: ON_HAND }), quantity: 2, onHand: ON_HAND },
      { productId: await shop.product({ onHand: kind === 'plenty' ? ON_HAND : 1 }), quantity: 3, onHand: kind === 'plenty' ? ON_HAND : 1 },
    ];
    const scenarios: Scenario[] = [];
    const add = async (failpoint: Failpoint, expected: Expected, drive: (lines: Line[]) => Promise<{ key: string }>, kind: 'plenty' | 'short' = 'plenty') => {
      const orderLines = await lines(kind);
      scenarios.push({ failpoint, expected, lines: orderLines, drive: () => drive(orderLines) });
    };
    await add('after-insert', 'AWAITING_CONFIRMATION', placeDying);
    await add('before-reserve', 'AWAITING_CONFIRMATION', placeDying);
    await add('after-reserve', 'AWAITING_CONFIRMATION', placeDying);
    await add('before-commit', 'CONFIRMED', (l) => placeThenDying(CONFIRM_ORDER, l));
    await add('after-commit', 'CONFIRMED', (l) => placeThenDying(CONFIRM_ORDER, l));
    await add('before-release', 'CANCELLED', (l) => placeThenDying(CANCEL_ORDER, l));
    await add('after-release', 'CANCELLED', (l) => placeThenDying(CANCEL_ORDER, l));
    // Out of stock on the second line: the saga dies on its way to FAILED
    await add('before-release', 'FAILED', placeDying, 'short');
    await add('after-release', 'FAILED', placeDying, 'short');

    // Each scenario: a process with the failpoint armed, driven there through the gateway, dies.
    const keys: string[] = [];
    for (const scenario of scenarios) {
      const child = await OrderProcess.start({ ...childEnv, ORDER_FAILPOINTS: scenario.failpoint, ORDER_WORKER_INTERVAL_MS: '3600000' }, orderPort);
      running.push(child);
      const { key } = await scenario.drive();
      expect(await child.exited).toBe('SIGKILL');
      running.pop();
      keys.push(key);
    }
    const ids = await Promise.all(keys.map(orderIdOf));
    // Right after the crashes, the sagas are open: nothing has finished them.
    const open = await prisma.order.findMany({ where: { id: { in: ids } }, select: { sagaStep: true } });
    expect(open.every((order) => order.sagaStep !== 'NONE')).toBe(true);

    // Then one process without failpoints starts and, within seconds, every order is settled.
    running.push(await OrderProcess.start(childEnv, orderPort));
    const settled = await eventually(
      () => prisma.order.findMany({ where: { id: { in: ids } }, include: { history: { orderBy: { createdAt: 'asc' } } } }),
      (orders) => orders.length === ids.length && orders.every((order) => order.sagaStep === 'NONE'),
      30_000,
    );

    for (const [i, scenario] of scenarios.entries()) {
      const id = ids[i]!;
      const order = settled.find((o) => o.id === id)!;
      const label = `${scenario.failpoint} -> ${scenario.expected}`;
      expect({ label, status: order.status }).toEqual({ label, status: scenario.expected });

      // No status was entered twice, and each announced status has exactly one event
      const statuses = order.history.map((change) => change.to);
      expect({ label, statuses: new Set(statuses).size }).toEqual({ label, statuses: statuses.length });
      const events = await prisma.orderOutboxEvent.findMany({ where: { payload: { path: ['orderId'], equals: id } } });
      const expectedEvents = { AWAITING_CONFIRMATION: ['OrderPlaced'], CONFIRMED: ['OrderConfirmed', 'OrderPlaced'], CANCELLED: ['OrderCancelled', 'OrderPlaced'], FAILED: ['OrderCancelled'] }[scenario.expected];
      expect({ label, events: events.map((e) => e.type).sort() }).toEqual({ label, events: expectedEvents });

      // The inventory agrees with the order, each effect once
      const trail = await inventoryTrail(prisma, id);
      const perLine = { AWAITING_CONFIRMATION: ['reserved'], CONFIRMED: ['committed', 'reserved'], CANCELLED: ['released', 'reserved'], FAILED: [] }[scenario.expected];
      expect({ label, reasons: trail.reasons }).toEqual({ label, reasons: scenario.lines.flatMap(() => perLine).sort() });
      for (const line of scenario.lines) {
        const initial = line.onHand;
        const stock = await shop.stock(line.productId);
        const expectedStock = {
          AWAITING_CONFIRMATION: { onHand: initial, reserved: line.quantity },
          CONFIRMED: { onHand: initial - line.quantity, reserved: 0 },
          CANCELLED: { onHand: initial, reserved: 0 },
          FAILED: { onHand: initial, reserved: 0 },
        }[scenario.expected];
        expect({ label, onHand: stock.onHand, reserved: stock.reserved }).toEqual({ label, ...expectedStock });
      }
    }

    // And the recovered orders carry on normally: one placed after the crash is confirmed
    const awaiting = settled.find((order) => order.status === 'AWAITING_CONFIRMATION')!;
    expect(ok(await stack.gql(CONFIRM_ORDER, { id: awaiting.id }, { token: customer.accessToken })).confirmOrder.status).toBe('CONFIRMED');
  }, COLD_STARTS * START_TIMEOUT_MS + 120_000);
});
