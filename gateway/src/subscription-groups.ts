import type { ExecutionResult } from 'graphql';
import type { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Logger } from '../../kernel/src/logger';
import type { Metrics } from '../../kernel/src/metrics';
import type { GatewayContext } from './identity';
import type { SubscriptionRoute } from './subscription-routes';

/** Subscribers handed a result per macrotask: a burst to 10,000 sockets leaves the event loop free between chunks. */
const FAN_OUT_CHUNK = 500;

/** How subscription events fare: handed to subscribers, or dropped (where, in `reason`). */
export interface DeliveryCounters {
  delivered: { inc(count: number): void };
  dropped: { inc(labels: { reason: 'group_behind' | 'subscriber_behind' | 'superseded' }, count: number): void };
}

export function deliveryCounters(metrics: Metrics): DeliveryCounters {
  return {
    delivered: metrics.counter('shop_gateway_subscription_events_delivered_total', 'Subscription results handed to subscribers (one per subscriber and event)'),
    dropped: metrics.counter(
      'shop_gateway_subscription_events_dropped_total',
      'Subscription results never sent: group_behind / subscriber_behind (too many waiting: the subscriber is cut off), superseded (a newer stock level replaced it)',
      ['reason'],
    ),
  };
}

/** What a group runs for each event, fixed when its first subscriber joins. */
export interface GroupExecution {
  route: SubscriptionRoute;
  /** The subscription's root arguments (`productIds`, `orderId`), for `route.accepts`. */
  rootArgs: Record<string, unknown>;
  /** Whose view the group's results are: an anonymous caller for public feeds, the user for personal ones. */
  context: GatewayContext;
  /** The event's result, or undefined when there is nothing to send for it. */
  execute(event: Record<string, unknown>, context: GatewayContext): Promise<ExecutionResult | undefined>;
}

/** One result on its way to a subscriber; `key` is the route's coalesce key of the event it came from. */
export interface Delivery {
  result: ExecutionResult;
  key?: string;
}

/** A subscriber's side of a group: where its results go, and how to cut it off when the group falls behind. */
export interface GroupMember {
  deliver(delivery: Delivery): void;
  fallBehind(): void;
}

interface Member {
  member: GroupMember;
  /** The group's event sequence number when it joined: it gets only events published after that. */
  since: number;
}

/**
 * The subscribers that sent the same operation with the same variables and may see the same things
 * (the group key, computed once when they subscribe). Each event is executed once for the group,
 * in the order the events came, and its result is shared by every member.
 */
class SubscriptionGroup {
  readonly members = new Map<GroupMember, Member>();
  private readonly pending: Array<{ event: Record<string, unknown>; seq: number }> = [];
  private seq = 0;
  private draining = false;
  readonly subscribed: Promise<number>;

  constructor(
    private readonly key: string,
    private readonly execution: GroupExecution,
    pubsub: RedisPubSub,
    private readonly maxQueuedEvents: number,
    private readonly logger: Logger,
    private readonly counters: DeliveryCounters,
  ) {
    this.subscribed = pubsub.subscribe(execution.route.channel, (event: Record<string, unknown>) => this.onEvent(event));
  }

  join(member: GroupMember): void {
    this.members.set(member, { member, since: this.seq });
  }

  private onEvent(event: Record<string, unknown>): void {
    const { route, rootArgs, context } = this.execution;
    if (!route.accepts(rootArgs, event, context.identity)) return;
    // Events wait here while the previous one is executed; as many as one subscriber could hold before.
    if (this.pending.length >= this.maxQueuedEvents) {
      this.logger.warn({ channel: route.channel, subscribers: this.members.size }, 'subscribers fell behind their events; closing their sockets');
      this.counters.dropped.inc({ reason: 'group_behind' }, (this.pending.length + 1) * this.members.size);
      this.pending.length = 0;
      for (const { member } of [...this.members.values()]) member.fallBehind();
      return;
    }
    this.pending.push({ event, seq: ++this.seq });
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.pending.length > 0 && this.members.size > 0) {
        const { event, seq } = this.pending.shift()!;
        let result: ExecutionResult | undefined;
        try {
          result = await this.execution.execute(event, this.execution.context);
        } catch (error) {
          this.logger.error({ err: error, group: this.key }, 'a subscription event failed to execute');
          continue;
        }
        if (result) await this.fanOut({ result, key: this.execution.route.coalesceKey?.(event) }, seq);
      }
    } finally {
      this.draining = false;
    }
  }

  /** Hands `delivery` to every member that was there when its event came, a chunk per macrotask. */
  private async fanOut(delivery: Delivery, seq: number): Promise<void> {
    const members = [...this.members.values()];
    for (let start = 0; start < members.length; start += FAN_OUT_CHUNK) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      let delivered = 0;
      for (const { member, since } of members.slice(start, start + FAN_OUT_CHUNK)) {
        if (since < seq && this.members.has(member)) {
          member.deliver(delivery);
          delivered++;
        }
      }
      if (delivered > 0) this.counters.delivered.inc(delivered);
    }
  }
}

/** The gateway's subscription groups, by key; a group lives while it has members. */
export class SubscriptionGroups {
  private readonly groups = new Map<string, SubscriptionGroup>();

  constructor(
    private readonly pubsub: RedisPubSub,
    private readonly maxQueuedEvents: number,
    private readonly logger: Logger,
    private readonly counters: DeliveryCounters,
  ) {}

  /**
   * Adds `member` to the group `key` (made from `execution` if it is the first); resolves once the
   * group's Redis subscription is live. The returned function takes it out again.
   */
  async join(key: string, execution: () => GroupExecution, member: GroupMember): Promise<() => void> {
    let group = this.groups.get(key);
    if (!group) {
      group = new SubscriptionGroup(key, execution(), this.pubsub, this.maxQueuedEvents, this.logger, this.counters);
      this.groups.set(key, group);
    }
    group.join(member);
    const leave = () => {
      if (!group.members.delete(member) || group.members.size > 0) return;
      if (this.groups.get(key) === group) this.groups.delete(key);
      void group.subscribed.then((id) => this.pubsub.unsubscribe(id), () => undefined);
    };
    try {
      await group.subscribed;
    } catch (error) {
      leave();
      throw error;
    }
    return leave;
  }

  /** How many groups there are (for tests and benchmarks). */
  get size(): number {
    return this.groups.size;
  }
}

/** A stable text for a JSON-like value: object keys sorted, so `{a, b}` and `{b, a}` give the same group key. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
