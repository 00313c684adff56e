import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger';
import { oncePerScrape, type Metrics } from '../metrics';
import type { Redis } from '../redis';
import { deadLetterKey, parseEnvelope, streamKey, type EventEnvelope } from './envelope';
import { SpanKind, SpanStatusCode, continueTrace, runOutsideRequests, startContinuedSpan } from '../request-context';

export interface StreamConsumerOptions {
  /** Used for acks and claims; the blocking reads get their own connection (`redis.duplicate()`). */
  redis: Redis;
  keyPrefix: string;
  stream: string;
  group: string;
  /** Unique per process: entries a consumer leaves pending are claimed by name. */
  consumer: string;
  logger: Logger;
  /** Must be idempotent (see processOnce): an entry is delivered at least once. */
  handle: (event: EventEnvelope) => Promise<void>;
  /**
   * Optional: the events of one read at once (one statement for a batch instead of a transaction per
   * event), acked together once it resolves. When it fails, the batch's events go through `handle`
   * one by one, so one bad event is retried and dead-lettered alone.
   */
  handleBatch?: (events: EventEnvelope[]) => Promise<void>;
  blockMs?: number;
  batchSize?: number;
  /** Entries pending this long (their consumer died, or the handler failed) are claimed and retried: keep it above the slowest handler. */
  claimIdleMs?: number;
  /** An entry delivered more often than this goes to the `<stream>:dead` stream instead. */
  maxDeliveries?: number;
  /** Longest wait between attempts while Redis is down. */
  maxBackoffMs?: number;
  /** The group's lag and pending entries (XINFO GROUPS on scrape), events handled and dead-lettered, labelled `stream` and `group`. */
  metrics?: Metrics;
}

interface ConsumerCounters {
  handled: { inc(labels: { stream: string; group: string; outcome: 'ok' | 'failed' }): void };
  deadLettered: { inc(labels: { stream: string; group: string }): void };
}

/** A consumer name unique to this process (`<service>:<host>:<pid>:<random>`): a dead process's pending entries are claimed by others. */
export const processConsumerName = (service: string): string => `${service}:${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

/** [entry id, [field, value, ...]]; the fields are null when the entry was trimmed from the stream. */
type StreamEntry = [id: string, fields: string[] | null];

const DEAD_LETTER_MAX_LEN = 10_000;

const replyError = (error: unknown, code: string): boolean => error instanceof Error && error.message.startsWith(code);

/**
 * Reads one Redis Stream as a member of a consumer group: at least once, acked after the handler
 * resolves, a failed entry retried after claimIdleMs, a poison entry dead-lettered.
 */
export class StreamConsumer {
  private readonly key: string;
  private readonly blockMs: number;
  private readonly batchSize: number;
  private readonly claimIdleMs: number;
  private readonly maxDeliveries: number;
  private readonly maxBackoffMs: number;
  private connection?: Redis;
  private loop?: Promise<void>;
  private stopping = false;
  private wake?: () => void;
  private claimCursor = '0-0';
  private readonly counters?: ConsumerCounters;

  constructor(private readonly options: StreamConsumerOptions) {
    this.key = streamKey(options.keyPrefix, options.stream);
    this.blockMs = options.blockMs ?? 1000;
    this.batchSize = options.batchSize ?? 50;
    this.claimIdleMs = options.claimIdleMs ?? 30_000;
    this.maxDeliveries = options.maxDeliveries ?? 10;
    this.maxBackoffMs = options.maxBackoffMs ?? 5_000;
    if (options.metrics) this.counters = this.registerMetrics(options.metrics);
  }

  private registerMetrics(metrics: Metrics): ConsumerCounters {
    const labels = { stream: this.options.stream, group: this.options.group };
    // One XINFO GROUPS per scrape for both gauges: O(number of groups), whatever the stream's length.
    const read = oncePerScrape(() => this.groupInfo());
    metrics.collected('shop_stream_consumer_lag', 'Entries of the stream not yet delivered to the consumer group (Redis 7 XINFO GROUPS lag)', ['stream', 'group'], async (set) => {
      const lag = (await read())?.lag;
      if (typeof lag === 'number') set(labels, lag);
    });
    metrics.collected('shop_stream_consumer_pending', 'Entries delivered to the consumer group and not yet acknowledged', ['stream', 'group'], async (set) => {
      const pending = (await read())?.pending;
      if (typeof pending === 'number') set(labels, pending);
    });
    return {
      handled: metrics.counter('shop_stream_events_handled_total', 'Stream entries handed to the handler: ok (acknowledged) or failed (retried later)', ['stream', 'group', 'outcome']),
      deadLettered: metrics.counter('shop_stream_dead_letters_total', 'Stream entries moved to the dead-letter stream (malformed, or delivered too often)', ['stream', 'group']),
    };
  }

  /** This consumer group's line of XINFO GROUPS, as an object (`lag`, `pending`, ...). */
  private async groupInfo(): Promise<Record<string, unknown> | undefined> {
    const groups = (await this.options.redis.xinfo('GROUPS', this.key)) as unknown[][];
    for (const fields of groups) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) info[String(fields[i])] = fields[i + 1];
      if (info.name === this.options.group) return info;
    }
    return undefined;
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.connection = this.options.redis.duplicate();
    // Outages are logged once by the loop; without a listener ioredis prints every reconnect failure.
    this.connection.on('error', () => undefined);
    this.loop = this.run(this.connection);
  }

  /** Returns once the handler in progress (if any) has finished; a pending BLOCK is cut short. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.connection?.disconnect();
    await this.loop;
    this.loop = undefined;
    this.connection = undefined;
  }

  private async run(connection: Redis): Promise<void> {
    const { logger } = this.options;
    let groupReady = false;
    // First this consumer's own pending entries (from before a restart), then new ones.
    let backlogFrom: string | undefined = '0';
    let nextClaimAt = 0;
    let failures = 0;
    while (!this.stopping) {
      try {
        if (!groupReady) {
          await this.createGroup();
          groupReady = true;
        }
        if (Date.now() >= nextClaimAt) {
          await this.claimIdle();
          nextClaimAt = Date.now() + this.claimIdleMs / 2;
        }
        if (backlogFrom) {
          const entries = await this.read(connection, backlogFrom);
          await this.processAll(entries, true);
          backlogFrom = entries.length < this.batchSize ? undefined : entries[entries.length - 1]![0];
        } else {
          const blockMs = Math.max(1, Math.min(this.blockMs, nextClaimAt - Date.now()));
          await this.processAll(await this.read(connection, '>', blockMs), false);
        }
        if (failures > 0) logger.info({ stream: this.key, group: this.options.group }, 'stream consumer reads again');
        failures = 0;
      } catch (error) {
        if (this.stopping) break;
        if (replyError(error, 'NOGROUP')) {
          // The stream or the group is gone (Redis restarted without persistence): start over.
          logger.warn({ stream: this.key, group: this.options.group }, 'consumer group is gone; creating it again');
          groupReady = false;
          backlogFrom = '0';
          this.claimCursor = '0-0';
          continue;
        }
        if (failures === 0) logger.warn({ err: error, stream: this.key, group: this.options.group }, 'stream consumer cannot read; retrying');
        failures += 1;
        await this.sleep(Math.min(100 * 2 ** failures, this.maxBackoffMs));
      }
    }
  }

  private async createGroup(): Promise<void> {
    try {
      // From 0: a new group reads the whole stream.
      await this.options.redis.xgroup('CREATE', this.key, this.options.group, '0', 'MKSTREAM');
    } catch (error) {
      if (!replyError(error, 'BUSYGROUP')) throw error;
    }
  }

  private async read(connection: Redis, from: string, blockMs?: number): Promise<StreamEntry[]> {
    const { group, consumer } = this.options;
    const block = blockMs === undefined ? [] : ['BLOCK', blockMs];
    const reply = (await connection.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', this.batchSize, ...block, 'STREAMS', this.key, from)) as
      | [string, StreamEntry[]][]
      | null;
    return reply?.[0]?.[1] ?? [];
  }

  private async claimIdle(): Promise<void> {
    const { redis, group, consumer } = this.options;
    const [cursor, entries] = (await redis.xautoclaim(this.key, group, consumer, this.claimIdleMs, this.claimCursor, 'COUNT', this.batchSize)) as [
      string,
      StreamEntry[],
    ];
    this.claimCursor = cursor;
    await this.processAll(entries, true);
  }

  /** `redelivered`: the entries may have been delivered before, so their delivery counts are checked. */
  private async processAll(entries: StreamEntry[], redelivered: boolean): Promise<void> {
    const deliveries = redelivered ? await this.deliveryCounts(entries.map(([id]) => id)) : new Map<string, number>();
    if (this.options.handleBatch && entries.length > 0 && !this.stopping) {
      entries = await this.processBatch(entries, deliveries);
    }
    for (const [id, fields] of entries) {
      if (this.stopping) return;
      await this.process(id, fields, deliveries.get(id) ?? 1);
    }
  }

  /**
   * The well-formed, not over-delivered entries through handleBatch, acked in one XACK; returns the
   * entries left for one-by-one processing (the odd ones, or all of them when the batch failed).
   */
  private async processBatch(entries: StreamEntry[], deliveries: Map<string, number>): Promise<StreamEntry[]> {
    const { redis, group, logger } = this.options;
    const batch: Array<{ id: string; event: EventEnvelope }> = [];
    const rest: StreamEntry[] = [];
    for (const entry of entries) {
      const [id, fields] = entry;
      let event: EventEnvelope | undefined;
      try {
        if (fields && (deliveries.get(id) ?? 1) <= this.maxDeliveries) event = parseEnvelope(fields[fields.indexOf('event') + 1] ?? '');
      } catch {
        event = undefined;
      }
      if (event) batch.push({ id, event });
      else rest.push(entry);
    }
    if (batch.length === 0) return entries;
    // One consumer span per event, each in its request's trace, as one at a time has.
    const spans = batch.map(({ event }) =>
      startContinuedSpan(event, `process ${event.type}`, {
        kind: SpanKind.CONSUMER,
        attributes: { 'messaging.system': 'redis', 'messaging.destination.name': this.key, 'messaging.consumer.group.name': group, 'messaging.message.id': event.id, 'messaging.batch.message_count': batch.length },
      }).span,
    );
    try {
      await runOutsideRequests(() => this.options.handleBatch!(batch.map(({ event }) => event)));
    } catch (error) {
      for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      logger.warn({ err: error, events: batch.length, group }, 'event batch handler failed; its events are handled one by one');
      return entries;
    } finally {
      for (const span of spans) span.end();
    }
    await redis.xack(this.key, group, ...batch.map(({ id }) => id));
    for (let i = 0; i < batch.length; i++) this.counters?.handled.inc({ stream: this.options.stream, group, outcome: 'ok' });
    return rest;
  }

  private async process(id: string, fields: string[] | null, deliveries: number): Promise<void> {
    const { redis, group, logger } = this.options;
    if (!fields) {
      logger.warn({ stream: this.key, group, entryId: id }, 'a pending entry was trimmed from the stream before it was processed');
      await redis.xack(this.key, group, id);
      return;
    }
    const raw = fields[fields.indexOf('event') + 1] ?? '';
    let event: EventEnvelope;
    try {
      event = parseEnvelope(raw);
    } catch {
      return this.deadLetter(id, raw, 'not an event envelope');
    }
    if (deliveries > this.maxDeliveries) return this.deadLetter(id, raw, `delivered ${deliveries} times`);
    try {
      // Handled as part of the request that caused the event: its trace goes on here, its id is on the logs.
      await continueTrace(
        event,
        `process ${event.type}`,
        { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'redis', 'messaging.destination.name': this.key, 'messaging.consumer.group.name': group, 'messaging.message.id': event.id } },
        async () => {
          try {
            await this.options.handle(event);
          } catch (error) {
            logger.warn({ err: error, eventId: event.id, type: event.type, group, deliveries }, 'event handler failed; the event will be retried');
            throw error;
          }
        },
      );
    } catch {
      this.counters?.handled.inc({ stream: this.options.stream, group, outcome: 'failed' });
      return;
    }
    await redis.xack(this.key, group, id);
    this.counters?.handled.inc({ stream: this.options.stream, group, outcome: 'ok' });
  }

  private async deliveryCounts(ids: string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const pipeline = this.options.redis.pipeline();
    for (const id of ids) pipeline.xpending(this.key, this.options.group, id, id, 1);
    const results = (await pipeline.exec()) ?? [];
    const counts = new Map<string, number>();
    for (const [error, reply] of results) {
      if (error) throw error;
      const [entry] = reply as [string, string, number, number][];
      if (entry) counts.set(entry[0], entry[3]);
    }
    return counts;
  }

  private async deadLetter(id: string, raw: string, reason: string): Promise<void> {
    const { redis, keyPrefix, stream, group, logger } = this.options;
    logger.error({ stream: this.key, group, entryId: id, reason }, 'event moved to the dead-letter stream');
    const results = await redis
      .multi()
      .xadd(deadLetterKey(keyPrefix, stream), 'MAXLEN', '~', DEAD_LETTER_MAX_LEN, '*', 'event', raw, 'group', group, 'entry', id, 'reason', reason)
      .xack(this.key, group, id)
      .exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0];
    this.counters?.deadLettered.inc({ stream, group });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

/**
 * A service's reaction to one stream: its own consumer group, read in each process by a consumer
 * named after the service, every event handed to `handle`. Subclasses say what an event means.
 */
export abstract class StreamSubscriber {
  private readonly consumer: StreamConsumer;

  protected constructor(options: Omit<StreamConsumerOptions, 'consumer' | 'handle'> & { service: string }) {
    const { service, ...consumer } = options;
    const batch = this.handleBatch?.bind(this);
    this.consumer = new StreamConsumer({ ...consumer, consumer: processConsumerName(service), handle: (event) => this.handle(event), ...(batch ? { handleBatch: batch } : {}) });
  }

  start(): void {
    this.consumer.start();
  }

  /** Returns once the event in progress (if any) has been handled. */
  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /** Must be idempotent (see processOnce): an event is delivered at least once. */
  protected abstract handle(event: EventEnvelope): Promise<void>;

  /** Optional: several events read together, handled at once (see StreamConsumerOptions.handleBatch). */
  protected handleBatch?(events: EventEnvelope[]): Promise<void>;
}
