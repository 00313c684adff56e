import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { createLogger } from '../src/logger';
import { createPrisma, type PrismaClient } from '../src/prisma';
import { createRedis, type Redis } from '../src/redis';
import { deadLetterKey, liveChannel, parseEnvelope, streamKey, type EventEnvelope, type StockChanged } from '../src/events/envelope';
import { enqueueEvent, OutboxRelay, type OutboxRelayOptions } from '../src/events/outbox';
import { StreamConsumer, type StreamConsumerOptions } from '../src/events/consumer';
import { processOnce } from '../src/events/idempotency';
import { startTcpProxy } from '../../test/support/tcp-proxy';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger('events-test', 'silent');

let prisma: PrismaClient;
let redis: Redis;
const schemas: string[] = [];
/** Closed after each test, last opened first. */
let cleanups: (() => unknown)[] = [];
const later = (cleanup: () => unknown) => cleanups.push(cleanup);

beforeAll(async () => {
  prisma = createPrisma(process.env.DATABASE_URL!, { max: 10 });
  redis = createRedis(REDIS_URL, logger);
  await redis.ping();
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

afterAll(async () => {
  for (const schema of schemas) await prisma.$executeRawUnsafe(`DROP SCHEMA "${schema}" CASCADE`);
  await prisma.$disconnect();
  await redis.quit();
});

/**
 * Per test: an outbox and a processed_events table shaped exactly like the migration's, in a schema
 * of its own (a relay on the shared inventory outbox would publish other test files' events), and a
 * key prefix of its own.
 */
async function isolated(): Promise<{ schema: string; prefix: string; key: string }> {
  const id = randomBytes(4).toString('hex');
  const schema = `events_test_${id}`;
  schemas.push(schema);
  await prisma.$executeRawUnsafe(`CREATE SCHEMA "${schema}"`);
  await prisma.$executeRawUnsafe(`CREATE TABLE "${schema}".outbox_events (LIKE inventory.outbox_events INCLUDING ALL)`);
  await prisma.$executeRawUnsafe(`CREATE TABLE "${schema}".processed_events (LIKE catalog.processed_events INCLUDING ALL)`);
  const prefix = `test:${id}:`;
  later(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
  return { schema, prefix, key: streamKey(prefix, 'inventory') };
}

function stockChanged(version: number, productId: string = randomUUID()): StockChanged {
  return { productId, onHand: 10, reserved: 2, available: 8, lowStockThreshold: 3, version, at: new Date().toISOString() };
}

/** Commits one StockChanged event, the way the inventory service does. */
function commitStockChanged(schema: string, payload: StockChanged = stockChanged(1)) {
  return prisma.$transaction((tx) => enqueueEvent(tx, schema, { stream: 'inventory', type: 'StockChanged', source: 'inventory', payload }));
}

function relay(options: Partial<OutboxRelayOptions> & Pick<OutboxRelayOptions, 'schema' | 'keyPrefix'>): OutboxRelay {
  const relay = new OutboxRelay({ prisma, redis, logger, source: 'inventory', pollIntervalMs: 50, ...options });
  later(() => relay.stop());
  return relay;
}

/** A started consumer whose handler records each event it is given. */
function consumer(options: Partial<StreamConsumerOptions> & Pick<StreamConsumerOptions, 'keyPrefix' | 'group'>) {
  const handled: EventEnvelope[] = [];
  const consumer = new StreamConsumer({
    redis,
    stream: 'inventory',
    consumer: `consumer-${randomBytes(3).toString('hex')}`,
    logger,
    blockMs: 100,
    handle: async (event) => {
      handled.push(event);
    },
    ...options,
  });
  consumer.start();
  later(() => consumer.stop());
  return { consumer, handled };
}

async function streamEvents(key: string): Promise<EventEnvelope[]> {
  const entries = await redis.xrange(key, '-', '+');
  return entries.map(([, fields]) => parseEnvelope(fields[fields.indexOf('event') + 1]!));
}

async function unpublished(schema: string): Promise<number> {
  const [row] = await prisma.$queryRawUnsafe<{ count: number }[]>(`SELECT count(*)::int AS count FROM "${schema}".outbox_events WHERE published_at IS NULL`);
  return row!.count;
}

async function pendingCount(key: string, group: string): Promise<number> {
  const [count] = (await redis.xpending(key, group)) as [number];
  return count;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts the rejections of `object[method]` (an async method), which keeps working as before. */
function countFailures<T extends object, K extends keyof T>(object: T, method: K): () => number {
  let failures = 0;
  const original = (object[method] as (...args: unknown[]) => Promise<unknown>).bind(object);
  jest.spyOn(object, method as never).mockImplementation(((...args: unknown[]) =>
    original(...args).catch((error: unknown) => {
      failures += 1;
      throw error;
    })) as never);
  return () => failures;
}

// Generous: a condition that holds returns at once, and a loaded machine may take seconds.
async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('transactional outbox and relay', () => {
  it('publishes an event committed with its change to the stream and the live channel, once', async () => {
    const { schema, prefix, key } = await isolated();
    const channel = liveChannel(prefix, 'stockUpdated');
    const subscriber = redis.duplicate();
    later(() => subscriber.quit());
    const live: unknown[] = [];
    subscriber.on('message', (_channel: string, message: string) => live.push(JSON.parse(message)));
    await subscriber.subscribe(channel);
    const outbox = relay({ schema, keyPrefix: prefix, live: (event) => (event.type === 'StockChanged' ? { channel, message: event.payload } : undefined) });
    outbox.start();

    const event = await commitStockChanged(schema);
    outbox.kick();

    await waitFor('the event on the stream and the live channel', async () => (await redis.xlen(key)) === 1 && live.length === 1);
    expect(await outbox.publishPending()).toBe(0);
    await sleep(200);
    expect(await streamEvents(key)).toEqual([event]);
    expect(live).toEqual([event.payload]);
    expect(await unpublished(schema)).toBe(0);
  });

  it('publishes nothing for a rolled-back transaction', async () => {
    const { schema, prefix, key } = await isolated();
    const outbox = relay({ schema, keyPrefix: prefix });

    await expect(
      prisma.$transaction(async (tx) => {
        await enqueueEvent(tx, schema, { stream: 'inventory', type: 'StockChanged', source: 'inventory', payload: stockChanged(1) });
        throw new Error('the stock change failed');
      }),
    ).rejects.toThrow('the stock change failed');

    expect(await outbox.publishPending()).toBe(0);
    expect(await redis.exists(key)).toBe(0);
    const [row] = await prisma.$queryRawUnsafe<{ count: number }[]>(`SELECT count(*)::int AS count FROM "${schema}".outbox_events`);
    expect(row!.count).toBe(0);
  });

  it('writes into the inventory outbox inside the caller transaction', async () => {
    // Rolled back on purpose: the relays of other test files own the real inventory outbox.
    const rollback = new Error('rollback');
    let seen: { type: string; payload: StockChanged }[] = [];
    await expect(
      prisma.$transaction(async (tx) => {
        const event = await enqueueEvent(tx, 'inventory', { stream: 'inventory', type: 'StockChanged', source: 'inventory', payload: stockChanged(7) });
        seen = await tx.$queryRawUnsafe(`SELECT type, payload FROM inventory.outbox_events WHERE id = $1::uuid AND published_at IS NULL`, event.id);
        expect(seen).toEqual([{ type: 'StockChanged', payload: event.payload }]);
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    expect(seen).toHaveLength(1);
  });

  it('refuses a known event type on the wrong stream and a schema name that is not an identifier', async () => {
    await expect(
      prisma.$transaction((tx) => enqueueEvent(tx, 'inventory', { stream: 'order', type: 'StockChanged', source: 'inventory', payload: stockChanged(1) })),
    ).rejects.toThrow('StockChanged belongs on stream "inventory"');
    await expect(
      prisma.$transaction((tx) => enqueueEvent(tx, 'inventory"; DROP TABLE x; --', { stream: 'x', type: 'X', source: 'test', payload: {} })),
    ).rejects.toThrow('not a valid schema name');
  });

  it('publishes each event once and in commit order when several relays run at the same time', async () => {
    const { schema, prefix, key } = await isolated();
    const relays = [relay({ schema, keyPrefix: prefix, batchSize: 5 }), relay({ schema, keyPrefix: prefix, batchSize: 5 })];
    const committed: EventEnvelope[] = [];
    for (let version = 1; version <= 30; version += 1) committed.push(await commitStockChanged(schema, stockChanged(version, '00000000-0000-4000-8000-000000000001')));

    while ((await unpublished(schema)) > 0) await Promise.all(relays.map((r) => r.publishPending()));

    expect(await streamEvents(key)).toEqual(committed);
  });

  it('keeps events while Redis is unreachable and delivers them once to each group when it is back', async () => {
    const { schema, prefix, key } = await isolated();
    const proxy = await startTcpProxy();
    later(() => proxy.close());
    const relayRedis = createRedis(proxy.url, logger);
    later(() => relayRedis.disconnect());
    const relayLogger = createLogger('relay', 'silent');
    const warnings = jest.spyOn(relayLogger, 'warn');
    const outbox = relay({ schema, keyPrefix: prefix, redis: relayRedis, logger: relayLogger, maxBackoffMs: 200 });
    // Every round, scheduled or called, is one drain of the outbox.
    const failedAttempts = countFailures(outbox as unknown as { drain(): Promise<number> }, 'drain');
    const inCatalog = consumer({ keyPrefix: prefix, group: 'catalog' });
    const inNotifications = consumer({ keyPrefix: prefix, group: 'notification' });
    outbox.start();
    await waitFor('the relay connected', () => relayRedis.status === 'ready');

    proxy.block();
    const event = await commitStockChanged(schema);
    outbox.kick();
    // Several failed attempts, so "logged once" means once per outage, not once per attempt.
    await waitFor('the relay to fail three times', () => failedAttempts() >= 3);

    expect(await redis.exists(key)).toBe(1); // made by the consumers' groups, empty
    expect(await redis.xlen(key)).toBe(0);
    expect(await unpublished(schema)).toBe(1);
    const outageWarnings = warnings.mock.calls.filter(([, message]) => String(message).startsWith('outbox relay cannot publish'));
    expect(outageWarnings).toHaveLength(1);

    await proxy.unblock();
    await waitFor('both groups to get the event', () => inCatalog.handled.length > 0 && inNotifications.handled.length > 0);
    await sleep(300);
    expect(inCatalog.handled).toEqual([event]);
    expect(inNotifications.handled).toEqual([event]);
    expect(await unpublished(schema)).toBe(0);
    expect(await redis.xlen(key)).toBe(1);
  });
});

describe('stream consumer', () => {
  it('reclaims the entries of a consumer that died mid-handling and processes them', async () => {
    const { schema, prefix, key } = await isolated();
    const committed = [await commitStockChanged(schema), await commitStockChanged(schema), await commitStockChanged(schema)];
    await relay({ schema, keyPrefix: prefix }).publishPending();

    // Given a consumer process that read all three and is killed while handling the first.
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'support/stuck-consumer.ts'), REDIS_URL, prefix, 'inventory', 'catalog', 'doomed'],
      { cwd: path.resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    later(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor('the child to handle an event', () => output.includes(`handling ${committed[0]!.id}`), 15_000);
    child.kill('SIGKILL');
    await exited;
    expect(await pendingCount(key, 'catalog')).toBe(3);

    // When another consumer of the group runs, it claims them once they are idle long enough.
    const claimIdleMs = 500;
    const startedAt = Date.now();
    const survivor = consumer({ keyPrefix: prefix, group: 'catalog', claimIdleMs });

    await waitFor('the survivor to process all three', () => survivor.handled.length === 3);
    // Far below the default claimIdleMs (30 s): it was the 500 ms that applied.
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    expect(survivor.handled.map((event) => event.id).sort()).toEqual(committed.map((event) => event.id).sort());
    await waitFor('the entries acked', async () => (await pendingCount(key, 'catalog')) === 0);
  });

  it('carries on after Redis was unreachable for a while', async () => {
    const { schema, prefix } = await isolated();
    const proxy = await startTcpProxy();
    later(() => proxy.close());
    // Quick reconnects: the outage fails several reads within a second or two.
    const consumerRedis = createRedis(proxy.url, logger, { retryStrategy: () => 50 });
    later(() => consumerRedis.disconnect());
    const consumerLogger = createLogger('consumer', 'silent');
    const warnings = jest.spyOn(consumerLogger, 'warn');
    const outbox = relay({ schema, keyPrefix: prefix });
    const catalog = consumer({ keyPrefix: prefix, group: 'catalog', redis: consumerRedis, logger: consumerLogger });
    // The consumer backs off (sleeps) after each failed read, and only then.
    const backoffs = jest.spyOn(catalog.consumer as unknown as { sleep(ms: number): Promise<void> }, 'sleep');
    const before = await commitStockChanged(schema);
    await outbox.publishPending();
    await waitFor('the first event', () => catalog.handled.length === 1);

    proxy.block();
    const during = await commitStockChanged(schema);
    await outbox.publishPending();
    await waitFor('two failed reads', () => backoffs.mock.calls.length >= 2);
    expect(catalog.handled).toEqual([before]);
    expect(warnings.mock.calls.filter(([, message]) => String(message).startsWith('stream consumer cannot read'))).toHaveLength(1);

    await proxy.unblock();
    await waitFor('the event published during the outage', () => catalog.handled.length === 2);
    expect(catalog.handled).toEqual([before, during]);
  });

  it('first re-reads its own pending entries when it starts again under the same name', async () => {
    const { schema, prefix } = await isolated();
    const event = await commitStockChanged(schema);
    await relay({ schema, keyPrefix: prefix }).publishPending();
    let attempts = 0;
    const failing = consumer({
      keyPrefix: prefix,
      group: 'catalog',
      consumer: 'catalog-1',
      handle: async () => {
        attempts += 1;
        throw new Error('database is down');
      },
    });
    await waitFor('the first attempt', () => attempts === 1);
    await failing.consumer.stop();

    // A long claimIdleMs: only the re-read of its own pending entries can deliver it this soon.
    const restarted = consumer({ keyPrefix: prefix, group: 'catalog', consumer: 'catalog-1', claimIdleMs: 60_000 });
    await waitFor('the retry', () => restarted.handled.length === 1, 20_000);
    expect(restarted.handled).toEqual([event]);
  });

  it('retries a failed handler and dead-letters an event that keeps failing', async () => {
    const { schema, prefix, key } = await isolated();
    const transient = await commitStockChanged(schema);
    const poison = await commitStockChanged(schema);
    await relay({ schema, keyPrefix: prefix }).publishPending();
    const attempts = new Map<string, number>();
    const handled: string[] = [];
    consumer({
      keyPrefix: prefix,
      group: 'catalog',
      claimIdleMs: 100,
      maxDeliveries: 3,
      handle: async (event) => {
        const attempt = (attempts.get(event.id) ?? 0) + 1;
        attempts.set(event.id, attempt);
        if (event.id === poison.id || attempt === 1) throw new Error('cannot apply');
        handled.push(event.id);
      },
    });

    const deadKey = deadLetterKey(prefix, 'inventory');
    await waitFor('the poison event dead-lettered', async () => (await redis.xlen(deadKey)) === 1);
    expect(handled).toEqual([transient.id]);
    expect(attempts.get(transient.id)).toBe(2);
    expect(attempts.get(poison.id)).toBe(3);
    const [[, fields]] = (await redis.xrange(deadKey, '-', '+')) as [[string, string[]]];
    expect(parseEnvelope(fields[fields.indexOf('event') + 1]!)).toEqual(poison);
    expect(fields).toEqual(expect.arrayContaining(['group', 'catalog', 'reason', 'delivered 4 times']));
    expect(await pendingCount(key, 'catalog')).toBe(0);
  });

  it('recreates its group when the stream is lost, as after a Redis restart without persistence', async () => {
    const { schema, prefix, key } = await isolated();
    const outbox = relay({ schema, keyPrefix: prefix });
    const catalog = consumer({ keyPrefix: prefix, group: 'catalog' });
    const before = await commitStockChanged(schema);
    await outbox.publishPending();
    await waitFor('the first event', () => catalog.handled.length === 1);

    await redis.del(key);
    const after = await commitStockChanged(schema);
    await outbox.publishPending();

    await waitFor('the event after the loss', () => catalog.handled.length === 2);
    expect(catalog.handled).toEqual([before, after]);
    expect(((await redis.xinfo('GROUPS', key)) as unknown[]).length).toBe(1);
    await waitFor('the entry acked', async () => (await pendingCount(key, 'catalog')) === 0);
  });

  it('stops promptly while blocked on a read', async () => {
    const { prefix } = await isolated();
    // Named, so CLIENT LIST shows when its read connection (a duplicate, same name) is blocked.
    const name = `blocked-${randomBytes(4).toString('hex')}`;
    const named = createRedis(REDIS_URL, logger, { connectionName: name });
    later(() => named.disconnect());
    const idle = consumer({ keyPrefix: prefix, group: 'catalog', blockMs: 10_000, redis: named });
    await waitFor('the read blocked in Redis', async () =>
      (await redis.client('LIST') as string).split('\n').some((line) => line.includes(` name=${name} `) && / flags=\w*b/.test(line) && line.includes(' cmd=xreadgroup')),
    );
    const startedAt = Date.now();
    await idle.consumer.stop();
    // Well under the 10 s the read would otherwise block.
    expect(Date.now() - startedAt).toBeLessThan(5000);
  });
});

describe('processOnce', () => {
  const consumerName = () => `test-${randomBytes(4).toString('hex')}`;

  it('applies an event delivered twice at the same time only once', async () => {
    const name = consumerName();
    const eventId = randomUUID();
    let applied = 0;
    const apply = async (tx: Parameters<Parameters<typeof processOnce>[4]>[0]) => {
      applied += 1;
      // Holds the first transaction open so the duplicate really overlaps it.
      await tx.$executeRawUnsafe('SELECT pg_sleep(0.3)');
    };

    const results = await Promise.all([processOnce(prisma, 'catalog', name, eventId, apply), processOnce(prisma, 'catalog', name, eventId, apply)]);

    expect(results.sort()).toEqual([false, true]);
    expect(applied).toBe(1);
    expect(await processOnce(prisma, 'catalog', name, eventId, apply)).toBe(false);
    expect(await processOnce(prisma, 'catalog', consumerName(), eventId, async () => undefined)).toBe(true);
  });

  it('records nothing when applying fails, so a redelivery applies it', async () => {
    const name = consumerName();
    const eventId = randomUUID();
    await expect(
      processOnce(prisma, 'catalog', name, eventId, async () => {
        throw new Error('projection failed');
      }),
    ).rejects.toThrow('projection failed');
    expect(await processOnce(prisma, 'catalog', name, eventId, async () => undefined)).toBe(true);
  });

  it('applies a duplicate from the stream once, with two consumers of one group racing', async () => {
    const { schema, prefix, key } = await isolated();
    const event = await commitStockChanged(schema);
    // A relay crash between XADD and marking the row published: the same event twice on the stream.
    await redis.xadd(key, '*', 'event', JSON.stringify(event));
    await redis.xadd(key, '*', 'event', JSON.stringify(event));
    let applied = 0;
    let handled = 0;
    const handle = async (delivered: EventEnvelope) => {
      await processOnce(prisma, schema, 'catalog.inStock', delivered.id, async (tx) => {
        applied += 1;
        await tx.$executeRawUnsafe('SELECT pg_sleep(0.2)');
      });
      handled += 1;
    };
    consumer({ keyPrefix: prefix, group: 'catalog', batchSize: 1, handle });
    consumer({ keyPrefix: prefix, group: 'catalog', batchSize: 1, handle });

    await waitFor('both deliveries handled', () => handled === 2);
    expect(applied).toBe(1);
    await waitFor('both entries acked', async () => (await pendingCount(key, 'catalog')) === 0);
  });
});
