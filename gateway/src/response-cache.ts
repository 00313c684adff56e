import { createHash } from 'node:crypto';
import { HeaderMap, type ApolloServerPlugin, type GraphQLResponse } from '@apollo/server';
import { Kind, OperationTypeNode, type OperationDefinitionNode } from 'graphql';
import type { Logger } from '../../kernel/src/logger';
import type { Metrics } from '../../kernel/src/metrics';
import { duplicateRedis, type Redis } from '../../kernel/src/redis';
import { liveChannel, type ProductChanged, type StockChanged } from '../../kernel/src/events/envelope';
import type { GatewayContext } from './identity';

/** Longest an entry is kept whatever its hints say; tags outlive it, so an entry never outlives what evicts it. */
const MAX_TTL_SECONDS = 3600;
const TAG_TTL_SECONDS = 2 * MAX_TTL_SECONDS;
/** Every entry has it: bumped when this gateway may have missed events (its Redis connection came back). */
const EVERY_ENTRY = 'all';
/** Anything that lists or looks products up other than by id: any product change may change it. */
const PRODUCT_LISTS = 'products';
const productTag = (id: string) => `product:${id.toLowerCase()}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The subgraphs whose data cached responses show: products, their stock, and the reservations orders hold. */
const CACHED_SUBGRAPHS = new Set(['catalog', 'inventory', 'order']);

/** What the cache needs to know of the supergraph being served (it may be reloaded). */
export interface ServedSupergraph {
  /** Changes with the supergraph: replicas on another schema never share entries. */
  version: string;
  /** The subgraph serving each Mutation field. */
  mutationOwners: ReadonlyMap<string, string>;
}

interface CachedResponse {
  /** The change sequence when the request that produced it started: older than any change it missed. */
  seq: number;
  tags: string[];
  data: Record<string, unknown>;
  maxAge: number;
  storedAt: number;
}

// INCR the change sequence, then stamp each touched tag with it: an entry is good while none of its tags is newer than it.
const BUMP_SCRIPT = `local seq = redis.call('INCR', KEYS[1])
for i = 2, #KEYS do redis.call('SET', KEYS[i], seq, 'EX', ARGV[1]) end
return seq`;

/**
 * The shared response cache: whole query responses in Redis, for every gateway replica. Only what
 * the subgraphs' @cacheControl hints make PUBLIC with a max age is kept (so personal data, which has
 * no such hint, never is), never a mutation, a subscription or a response with errors.
 *
 * Freshness: each entry carries tags (`product:<id>` for each product id in it or in its arguments,
 * `products` unless it only asks `product(id)`), and the change sequence read when its request
 * started. Stock and product events stamp the tags they touch with a newer sequence, and an entry
 * with a tag newer than itself is a miss: so the next query after a change is fresh on every
 * replica, and a response computed while a change landed is never served.
 */
export class ResponseCache {
  private readonly prefix: string;
  private readonly channels: string[];
  private subscriber?: Redis;
  private readonly pendingBumps = new Set<string>();
  private readonly lookups?: { inc(labels: { result: 'hit' | 'miss' | 'error' }): void };

  constructor(
    private readonly redis: Redis,
    keyPrefix: string,
    /** Read per request: the supergraph may be reloaded. */
    private readonly supergraph: () => ServedSupergraph,
    private readonly logger: Logger,
    metrics?: Metrics,
  ) {
    this.lookups = metrics?.counter('shop_gateway_response_cache_lookups_total', 'Queries looked up in the response cache: hit, miss (absent or stale), error (Redis failed)', ['result']);
    this.prefix = `${keyPrefix}response-cache:`;
    this.channels = [liveChannel(keyPrefix, 'stockUpdated'), liveChannel(keyPrefix, 'productChanged')];
  }

  /** Listens for the events that evict entries (on a connection of its own: a subscribed connection does nothing else). */
  async start(): Promise<void> {
    const subscriber = duplicateRedis(this.redis);
    this.subscriber = subscriber;
    let connectedBefore = false;
    subscriber.on('ready', () => {
      // Events published while we were away are lost: forget everything cached before.
      if (connectedBefore) void this.bump([EVERY_ENTRY]);
      connectedBefore = true;
    });
    subscriber.on('message', (_channel: string, message: string) => {
      let productId: unknown;
      try {
        productId = (JSON.parse(message) as Partial<StockChanged | ProductChanged>).productId;
      } catch {
        return;
      }
      if (typeof productId === 'string') this.bumpSoon([productTag(productId), PRODUCT_LISTS]);
    });
    await subscriber.subscribe(...this.channels);
  }

  stop(): void {
    this.subscriber?.disconnect();
  }

  /**
   * Bumps `tags` with the others asked for in the same turn of the event loop, in one script call: the
   * outbox relay publishes a round's events together, and they arrive here in one read.
   */
  private bumpSoon(tags: string[]): void {
    const scheduled = this.pendingBumps.size > 0;
    for (const tag of tags) this.pendingBumps.add(tag);
    if (scheduled) return;
    setImmediate(() => {
      const due = [...this.pendingBumps];
      this.pendingBumps.clear();
      void this.bump(due);
    });
  }

  /** Makes every entry tagged with one of `tags` a miss from now on, on every replica. */
  async bump(tags: string[]): Promise<void> {
    try {
      await this.redis.eval(BUMP_SCRIPT, 1 + tags.length, this.key('seq'), ...tags.map((tag) => this.key(`tag:${tag}`)), TAG_TTL_SECONDS);
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : error, tags }, 'response cache eviction failed; entries expire by their max age');
    }
  }

  plugin(): ApolloServerPlugin<GatewayContext> {
    return {
      requestDidStart: async () => {
        let key: string | undefined;
        let startSeq = 0;
        let hit = false;
        return {
          responseForOperation: async ({ operation, source, request, contextValue, overallCachePolicy }) => {
            if (operation.operation !== OperationTypeNode.QUERY || contextValue.internal) return null;
            key = this.key(`entry:${sha256(JSON.stringify([this.supergraph().version, source, request.operationName ?? null, request.variables ?? {}]))}`);
            try {
              const [raw, seq] = await this.redis.mget(key, this.key('seq'));
              startSeq = Number(seq ?? 0);
              const entry = raw ? (JSON.parse(raw) as CachedResponse) : undefined;
              if (!entry || !(await this.fresh(entry))) {
                this.lookups?.inc({ result: 'miss' });
                return null;
              }
              hit = true;
              this.lookups?.inc({ result: 'hit' });
              const age = Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000));
              overallCachePolicy.replace({ maxAge: Math.max(0, entry.maxAge - age), scope: 'PUBLIC' });
              const http = { status: undefined, headers: new HeaderMap([['age', String(age)]]) };
              return { body: { kind: 'single', singleResult: { data: entry.data } }, http } satisfies GraphQLResponse;
            } catch (error) {
              // Redis trouble costs the cache, not the request.
              this.logger.warn({ err: error instanceof Error ? error.message : error }, 'response cache read failed');
              this.lookups?.inc({ result: 'error' });
              key = undefined;
              return null;
            }
          },
          willSendResponse: async ({ response, operation, request, overallCachePolicy }) => {
            if (operation?.operation === OperationTypeNode.MUTATION && response.body.kind === 'single') {
              // A change made through this gateway is evicted before its caller hears back, so the
              // caller's next query (on any replica) is fresh without waiting for the domain event.
              // Only mutations of the subgraphs whose data is cached: a login or a mark-read evicts nothing.
              if (!this.changesCachedData(operation)) return;
              const touched = tagsOf(operation, request.variables, response.body.singleResult.data ?? {}).filter((tag) => tag !== EVERY_ENTRY);
              if (touched.some((tag) => tag !== PRODUCT_LISTS)) await this.bump(touched);
              return;
            }
            if (hit || !key || !operation || response.body.kind !== 'single') return;
            const { data, errors } = response.body.singleResult;
            if (errors?.length || !data) return;
            const policy = overallCachePolicy.policyIfCacheable();
            if (!policy || policy.scope !== 'PUBLIC') return;
            const maxAge = Math.min(policy.maxAge, MAX_TTL_SECONDS);
            const entry: CachedResponse = { seq: startSeq, tags: tagsOf(operation, request.variables, data), data, maxAge, storedAt: Date.now() };
            try {
              await this.redis.set(key, JSON.stringify(entry), 'EX', maxAge);
            } catch (error) {
              this.logger.warn({ err: error instanceof Error ? error.message : error }, 'response cache write failed');
            }
          },
        };
      },
    };
  }

  private changesCachedData(operation: OperationDefinitionNode): boolean {
    const owners = this.supergraph().mutationOwners;
    return operation.selectionSet.selections.some((selection) => {
      if (selection.kind !== Kind.FIELD) return true; // fragments on Mutation: assume they may
      const owner = owners.get(selection.name.value);
      return owner === undefined ? selection.name.value !== '__typename' : CACHED_SUBGRAPHS.has(owner);
    });
  }

  private async fresh(entry: CachedResponse): Promise<boolean> {
    const stamps = await this.redis.mget(...entry.tags.map((tag) => this.key(`tag:${tag}`)));
    return stamps.every((stamp) => stamp === null || Number(stamp) <= entry.seq);
  }

  private key(name: string): string {
    return this.prefix + name;
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** What an entry depends on: the product ids it shows or was asked about, and the lists unless it only asks products by id. */
function tagsOf(operation: OperationDefinitionNode, variables: Record<string, unknown> | undefined, data: Record<string, unknown>): string[] {
  const tags = new Set<string>([EVERY_ENTRY]);
  const byIdOnly = operation.selectionSet.selections.every(
    (selection) => selection.kind === Kind.FIELD && (selection.name.value === 'product' || selection.name.value === '__typename'),
  );
  if (!byIdOnly) tags.add(PRODUCT_LISTS);
  const visit = (value: unknown): void => {
    if (typeof value === 'string') {
      if (UUID.test(value)) tags.add(productTag(value));
    } else if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(data);
  visit(variables);
  // product(id: "…") written in the document itself.
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) continue;
    for (const argument of selection.arguments ?? []) if (argument.value.kind === Kind.STRING) visit(argument.value.value);
  }
  return [...tags];
}
