import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger';
import { oncePerScrape, type Metrics } from '../metrics';
import { Prisma, poolOf, statementName, type PrismaClient } from '../prisma';
import type { Redis } from '../redis';
import { PollingWorker } from '../polling-worker';
import { EVENT_STREAMS, streamKey, type EventEnvelope, type EventPayloads, type EventType } from './envelope';
import { schemaTable } from './sql';
import { SpanKind, SpanStatusCode, currentTrace, startContinuedSpan, type Span } from '../request-context';

/** A known event type must come with its payload; any other type takes any JSON payload. */
type PayloadOf<K extends string> = K extends EventType ? EventPayloads[K] : unknown;

export interface NewEvent<K extends string> {
  stream: string;
  type: K;
  source: string;
  payload: PayloadOf<K>;
}

/**
 * Writes an event to `"<schema>".outbox_events` inside the caller's transaction, so it exists
 * exactly when the change does. The table has no source column: the relay publishes its own
 * `source` (by default the schema's name, which is the service's), so pass the same here.
 */
export async function enqueueEvent<K extends string>(
  tx: Prisma.TransactionClient,
  schema: string,
  input: NewEvent<K>,
): Promise<EventEnvelope<PayloadOf<K>>> {
  const [event] = await enqueueEvents(tx, schema, [input]);
  return event!;
}

/** The envelope of an event about to be written: checked against its stream, with its id and the request's trace. */
export function newEnvelope<K extends string>(input: NewEvent<K>): EventEnvelope<PayloadOf<K>> {
  const expected = Object.hasOwn(EVENT_STREAMS, input.type) ? EVENT_STREAMS[input.type as EventType] : input.stream;
  if (expected !== input.stream) throw new Error(`${input.type} belongs on stream "${expected}", not "${input.stream}"`);
  return {
    id: randomUUID(),
    type: input.type,
    source: input.source,
    occurredAt: new Date().toISOString(),
    payload: input.payload,
    // The request writing it: its consumers carry on its trace and its request id.
    ...currentTrace(),
  };
}

/** The outbox's columns, in the order outboxRow gives their values. */
const OUTBOX_COLUMNS = 'id, stream, type, payload, created_at, request_id, traceparent';

/** An event's row in the outbox: the values of OUTBOX_COLUMNS, the payload as JSON text. */
function outboxRow(stream: string, event: EventEnvelope<unknown>): [string, string, string, string, string, string | null, string | null] {
  return [event.id, stream, event.type, JSON.stringify(event.payload ?? null), event.occurredAt, event.requestId ?? null, event.traceparent ?? null];
}

/** Several events as enqueueEvent writes them, in one statement; they are published in the order given. */
export async function enqueueEvents<K extends string>(
  tx: Prisma.TransactionClient,
  schema: string,
  inputs: NewEvent<K>[],
): Promise<EventEnvelope<PayloadOf<K>>[]> {
  if (inputs.length === 0) return [];
  const events = inputs.map((input) => newEnvelope(input));
  const values: unknown[] = [];
  const rows = events.map((event, i) => {
    values.push(...outboxRow(inputs[i]!.stream, event));
    const p = i * 7;
    // VALUES rows take their seq in the order written: the order given.
    return `($${p + 1}::uuid, $${p + 2}, $${p + 3}, $${p + 4}::jsonb, $${p + 5}::timestamptz, $${p + 6}, $${p + 7})`;
  });
  await tx.$executeRawUnsafe(`INSERT INTO ${schemaTable(schema, 'outbox_events')} (${OUTBOX_COLUMNS}) VALUES ${rows.join(', ')}`, ...values);
  return events;
}

/**
 * Events' outbox INSERT as one part of a larger statement (a CTE beside the change it announces):
 * one event for each row of `rows.from` (none when the change did not happen), in `rows.orderBy`'s
 * order. Its payload is `event.payload` merged with `rows.payload`, an SQL jsonb expression over the
 * row (what only the change knows); `rows.id`, an SQL uuid per row, when there are several rows.
 */
export function enqueueEventsSql(
  schema: string,
  event: { stream: string; type: string; source: string; payload?: unknown },
  rows: { from: Prisma.Sql; payload?: Prisma.Sql; id?: Prisma.Sql; orderBy?: Prisma.Sql },
): Prisma.Sql {
  const [id, stream, type, payload, occurredAt, requestId, traceparent] = outboxRow(event.stream, newEnvelope({ ...event, payload: event.payload ?? {} }));
  return Prisma.sql`INSERT INTO ${Prisma.raw(schemaTable(schema, 'outbox_events'))} (${Prisma.raw(OUTBOX_COLUMNS)})
    SELECT ${rows.id ?? Prisma.sql`${id}::uuid`}, ${stream}, ${type}, ${payload}::jsonb || ${rows.payload ?? Prisma.sql`'{}'::jsonb`},
           ${occurredAt}::timestamptz, ${requestId}, ${traceparent}
    FROM ${rows.from}${rows.orderBy ? Prisma.sql` ORDER BY ${rows.orderBy}` : Prisma.empty}`;
}

export interface LiveMessage {
  /** The full channel name: build it with `liveChannel(keyPrefix, name)`. */
  channel: string;
  /** Sent as JSON.stringify(message), what graphql-redis-subscriptions expects by default. */
  message: unknown;
}

export interface OutboxRelayOptions {
  prisma: PrismaClient;
  redis: Redis;
  schema: string;
  /** The producing service, published as each event's `source`; defaults to `schema`. */
  source?: string;
  keyPrefix: string;
  logger: Logger;
  pollIntervalMs?: number;
  batchSize?: number;
  /** Approximate length each stream is trimmed to (MAXLEN ~). */
  streamMaxLen?: number;
  /** Longest wait between attempts while Redis or the database is down. */
  maxBackoffMs?: number;
  /** A batch whose Redis calls take longer is rolled back and retried (a duplicate at worst). */
  redisTimeoutMs?: number;
  /** The live pub/sub message for an event, if it has one. */
  live?: (event: EventEnvelope) => LiveMessage | undefined;
  /** Rows waiting, the oldest one's age (read on scrape) and rows published, labelled with `schema`. */
  metrics?: Metrics;
}

/** Rows counted at most on a scrape: past this the backlog reads as this many, and the scrape stays cheap. */
const MAX_COUNTED_ROWS = 100_000;

interface OutboxRow {
  id: string;
  stream: string;
  type: string;
  payload: string;
  occurred_at: string;
  request_id: string | null;
  traceparent: string | null;
}

/**
 * Publishes committed outbox rows, in seq order, to their Redis Stream (and live channel), then
 * marks them published. A crash between the two publishes a row twice, never zero times:
 * consumers deduplicate by event id.
 */
export class OutboxRelay {
  private readonly table: string;
  private readonly source: string;
  private readonly batchSize: number;
  private readonly streamMaxLen: number;
  private readonly redisTimeoutMs: number;
  private readonly worker: PollingWorker<number>;
  private stopped = false;
  private readonly published?: { inc(labels: { schema: string }, count: number): void };

  constructor(private readonly options: OutboxRelayOptions) {
    this.table = schemaTable(options.schema, 'outbox_events');
    this.source = options.source ?? options.schema;
    this.batchSize = options.batchSize ?? 100;
    this.streamMaxLen = options.streamMaxLen ?? 100_000;
    this.redisTimeoutMs = options.redisTimeoutMs ?? 5_000;
    if (options.metrics) this.published = this.registerMetrics(options.metrics);
    this.worker = new PollingWorker({
      run: () => this.drain(),
      intervalMs: options.pollIntervalMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
      onFailure: (error, failures) => {
        if (failures === 1) {
          options.logger.warn({ err: error, schema: options.schema }, 'outbox relay cannot publish; events stay in the outbox and are retried');
        }
      },
      onRecovery: (published) => options.logger.info({ published }, 'outbox relay publishes again'),
    });
  }

  /** Polls every pollIntervalMs (kick() makes it sooner) until stop(). */
  start(): void {
    if (this.worker.running) return;
    this.stopped = false;
    this.options.redis.on('ready', this.onRedisReady);
    // Not connected yet: the 'ready' event starts the first round.
    this.worker.start(this.options.redis.status === 'ready' ? 0 : 'on-kick');
  }

  /** Publish soon: call after a transaction that enqueued events has committed. Kicks coalesce. */
  kick(): void {
    this.worker.kick();
  }

  /** Stops polling and waits for the batch in flight, so its rows are either marked or left for the next relay. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.options.redis.off('ready', this.onRedisReady);
    await this.worker.stop();
  }

  /**
   * Publishes every unpublished row now, batch by batch; resolves to how many it published.
   * Returns 0 when another relay holds this outbox (it is publishing them). Throws when Redis or
   * the database fails; the rows then stay for the next attempt.
   */
  publishPending(): Promise<number> {
    return this.worker.runNow();
  }

  private registerMetrics(metrics: Metrics): { inc(labels: { schema: string }, count: number): void } {
    const { schema } = this.options;
    // Both read through the (published_at, seq) index: the unpublished rows only, and the first of them.
    const read = oncePerScrape(() =>
      this.options.prisma.$queryRawUnsafe<{ waiting: number; age: number | null }[]>(
        `SELECT (SELECT count(*)::int FROM (SELECT 1 FROM ${this.table} WHERE published_at IS NULL LIMIT ${MAX_COUNTED_ROWS}) AS w) AS waiting,
                (SELECT extract(epoch FROM now() - created_at)::float8 FROM ${this.table} WHERE published_at IS NULL ORDER BY seq LIMIT 1) AS age`,
      ),
    );
    metrics.collected('shop_outbox_events_waiting', 'Outbox rows committed but not yet published to Redis', ['schema'], async (set) => {
      const [row] = await read();
      set({ schema }, row?.waiting ?? 0);
    });
    metrics.collected('shop_outbox_oldest_event_age_seconds', 'Age of the oldest unpublished outbox row (0 when none waits)', ['schema'], async (set) => {
      const [row] = await read();
      set({ schema }, Math.max(0, row?.age ?? 0));
    });
    return metrics.counter('shop_outbox_events_published_total', 'Outbox rows published to their Redis stream', ['schema']);
  }

  // Redis is back: publish what the outage held without waiting out the backoff.
  private readonly onRedisReady = (): void => this.worker.kick({ evenWhileBackingOff: true });

  private async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const published = await this.publishBatch();
      if (published > 0) this.published?.inc({ schema: this.options.schema }, published);
      total += published;
      if (published < this.batchSize || this.stopped) return total;
    }
  }

  /**
   * One round: in one transaction on a pooled client, take the outbox's lock and mark the next batch
   * published in one statement, send it to Redis, and commit only once Redis has it (a failure or a
   * crash rolls the marks back: published again later, never lost).
   */
  private async publishBatch(): Promise<number> {
    const { prisma, redis, schema } = this.options;
    // Commands queued while disconnected could run after we gave up on them: a needless duplicate.
    if (redis.status !== 'ready') throw new Error(`Redis is not connected (${redis.status})`);
    const client = await poolOf(prisma).connect();
    let broken: Error | undefined;
    // A connection lost between statements (while Redis is called) fails the next query; unheard, its 'error' would end the process.
    const lost = (error: Error) => {
      broken = error;
    };
    client.on('error', lost);
    try {
      try {
        // Bounded as Prisma's transactions were: a round stuck on Redis loses its session (and its marks) after 20 s.
        await client.query(`BEGIN; SET LOCAL idle_in_transaction_session_timeout = '20s'`);
        // One publisher per outbox at a time (the lock, held to commit): each item's events reach the stream in commit order.
        // By id, not by seq range: a row with a lower seq may commit after this statement's snapshot, and goes in a later round.
        // Named: prepared once per connection (PostgreSQL planned it each round as long as it ran it).
        const { rows } = await client.query<OutboxRow & { seq: string }>({
          name: statementName(this.options.prisma, `outbox_relay_${schema}`),
          text: `WITH "lock" AS (SELECT pg_try_advisory_xact_lock(hashtext('outbox'), hashtext($1)) AS locked)
           UPDATE ${this.table} SET published_at = now()
            WHERE id IN (SELECT id FROM ${this.table}, "lock" WHERE "lock".locked AND published_at IS NULL ORDER BY seq LIMIT $2)
           RETURNING seq::text AS seq, id::text AS id, stream, type, payload::text AS payload,
                     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at, request_id, traceparent`,
          values: [schema, this.batchSize],
        });
        if (rows.length > 0) await this.sendToRedis(rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1)));
        await client.query('COMMIT');
        return rows.length;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackFailed: unknown) => {
          broken = rollbackFailed instanceof Error ? rollbackFailed : new Error(String(rollbackFailed));
        });
        throw error;
      }
    } finally {
      // A connection that was lost or could not roll back is closed, not handed to the next round.
      client.off('error', lost);
      client.release(broken);
    }
  }

  private async sendToRedis(rows: OutboxRow[]): Promise<void> {
    const { redis, keyPrefix, live, logger } = this.options;
    const pipeline = redis.pipeline();
    // One span per event in its request's trace, ended once Redis has it: consumers continue from there.
    const spans: Span[] = [];
    for (const row of rows) {
      const { span, carried } = startContinuedSpan({ requestId: row.request_id, traceparent: row.traceparent }, `publish ${row.type}`, {
        kind: SpanKind.PRODUCER,
        attributes: { 'messaging.system': 'redis', 'messaging.destination.name': streamKey(keyPrefix, row.stream), 'messaging.message.id': row.id },
      });
      spans.push(span);
      const event: EventEnvelope = { id: row.id, type: row.type, source: this.source, occurredAt: row.occurred_at, payload: JSON.parse(row.payload), ...carried };
      pipeline.xadd(streamKey(keyPrefix, row.stream), 'MAXLEN', '~', this.streamMaxLen, '*', 'event', JSON.stringify(event));
      let message: LiveMessage | undefined;
      try {
        message = live?.(event);
      } catch (error) {
        // A broken live mapping must not hold back durable delivery.
        logger.error({ err: error, eventId: event.id }, 'live message mapping failed');
      }
      if (message) pipeline.publish(message.channel, JSON.stringify(message.message));
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.redisTimeoutMs} ms`)), this.redisTimeoutMs);
    });
    try {
      const results = await Promise.race([pipeline.exec(), timeout]);
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('Redis did not run the pipeline');
    } catch (error) {
      for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
      throw error;
    } finally {
      clearTimeout(timer);
      for (const span of spans) span.end();
    }
  }
}
