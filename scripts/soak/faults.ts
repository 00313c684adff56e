/**
 * Faults injected while the load runs, one after another: a process killed (SIGKILL) and started again,
 * the soak's Redis stopped and started, a service's PostgreSQL sessions terminated, the Bot API
 * answering 429 (retry_after) or 500 for a while. Each is timed until the path it broke serves again.
 */
import pg from 'pg';
import { WebSocket } from 'ws';
import { createClient } from 'graphql-ws';
import type { FakeTelegram } from '../../test/support/fake-telegram';
import { pgConfig } from '../bench/harness';
import { databaseName } from '../db/schema-engine';
import type { Traffic } from './client';
import { STOCK_UPDATED, type Product } from './load';
import { bindChat, newPhone, type Person } from './people';
import type { SoakRedis } from './redis-server';
import type { ProcessName, SubgraphName } from '../lib/processes';
import { applicationName, type Shop } from './shop';

export type Fault =
  | { kind: 'kill'; target: ProcessName }
  | { kind: 'redis' }
  | { kind: 'postgres'; target: SubgraphName }
  | { kind: 'telegram-429' }
  | { kind: 'telegram-500' };

export interface FaultRecord {
  fault: string;
  /** What was checked to call it recovered. */
  probe: string;
  injectedAt: number;
  /** When the fault itself ended: the process ready again, Redis up, the Bot API serving. */
  restoredAt?: number;
  recoveredAt?: number;
  /** Sessions terminated (postgres faults). */
  detail?: string;
}

export const describeFault = (fault: Fault): string => {
  switch (fault.kind) {
    case 'kill':
      return `SIGKILL ${fault.target}`;
    case 'redis':
      return 'Redis stopped and started';
    case 'postgres':
      return `pg_terminate_backend(${applicationName(fault.target)})`;
    case 'telegram-429':
      return 'Bot API 429 (retry_after 3)';
    case 'telegram-500':
      return 'Bot API 500';
  }
};

export interface FaultContext {
  shop: Shop;
  redis: SoakRedis;
  telegram: FakeTelegram;
  databaseUrl: string;
  /** Probes are counted apart from the load. */
  probes: Traffic;
  customer: Person;
  admin: Person;
  probeProduct: Product;
  /** How long the Bot API faults and the Redis stop last. */
  outageMs: number;
  /** A fault not recovered within this is reported as not recovered. */
  recoveryTimeoutMs: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A request that shows one service serving through the gateway. */
const SERVICE_PROBES: Record<ProcessName, { query: string; asCustomer: boolean; product?: boolean }> = {
  auth: { query: `query SoakProbeAuth { me { id } }`, asCustomer: true },
  catalog: { query: `query SoakProbeCatalog { products(first: 1) { totalCount } }`, asCustomer: false },
  inventory: { query: `query SoakProbeInventory($id: ID!) { inventoryItem(productId: $id) { available } }`, asCustomer: false, product: true },
  order: { query: `query SoakProbeOrder { myOrders(first: 1) { edges { node { id status } } } }`, asCustomer: true },
  notification: { query: `query SoakProbeNotification { myNotifications(first: 1) { edges { node { id } } } }`, asCustomer: true },
  gateway: { query: `query SoakProbeGateway { products(first: 1) { totalCount } }`, asCustomer: false },
};

export class FaultInjector {
  readonly records: FaultRecord[] = [];

  constructor(private readonly ctx: FaultContext) {}

  /** Injects `fault`, restores what it broke, and waits (bounded) until the path it broke serves again. */
  async inject(fault: Fault): Promise<FaultRecord> {
    const record: FaultRecord = { fault: describeFault(fault), probe: '', injectedAt: Date.now() };
    this.records.push(record);
    try {
      await this.injectAndWait(fault, record);
    } catch (error) {
      // A process that does not start again, say: recorded as not recovered, and the soak goes on.
      record.detail = (error as Error).message;
    }
    return record;
  }

  private async injectAndWait(fault: Fault, record: FaultRecord): Promise<void> {
    const { shop, redis, telegram } = this.ctx;
    let probe: () => Promise<boolean>;
    switch (fault.kind) {
      case 'kill': {
        await shop.kill(fault.target);
        await shop.startProcess(fault.target);
        record.restoredAt = Date.now();
        probe = fault.target === 'notification' ? () => this.all(this.serviceProbe('notification')(), this.botProbe()) : this.serviceProbe(fault.target);
        record.probe = fault.target === 'notification' ? `${fault.target} through the gateway, and a chat linked through the bot` : `${fault.target} through the gateway`;
        break;
      }
      case 'redis': {
        await redis.stop();
        await pause(this.ctx.outageMs / 2);
        await redis.start();
        record.restoredAt = Date.now();
        probe = () => this.all(this.loginCodeRequestProbe(), this.stockEventProbe());
        record.probe = 'requestOtp, and an adjustStock seen by a new stock subscriber';
        break;
      }
      case 'postgres': {
        const terminated = await this.terminateSessions(fault.target);
        record.restoredAt = Date.now();
        record.detail = `${terminated} sessions`;
        probe = this.serviceProbe(fault.target);
        record.probe = `${fault.target} through the gateway`;
        break;
      }
      case 'telegram-429':
      case 'telegram-500': {
        const spec = fault.kind === 'telegram-429' ? { errorCode: 429, retryAfter: 3 } : { errorCode: 500 };
        telegram.outage(spec, this.ctx.outageMs);
        await pause(this.ctx.outageMs);
        record.restoredAt = Date.now();
        probe = () => this.botProbe();
        record.probe = 'a chat linked through the bot';
        break;
      }
    }
    const deadline = Date.now() + this.ctx.recoveryTimeoutMs;
    while (Date.now() < deadline) {
      if (await probe().catch(() => false)) {
        record.recoveredAt = Date.now();
        break;
      }
      await pause(250);
    }
  }

  private async all(...probes: Array<Promise<boolean>>): Promise<boolean> {
    return (await Promise.all(probes)).every(Boolean);
  }

  private serviceProbe(target: ProcessName): () => Promise<boolean> {
    const spec = SERVICE_PROBES[target];
    return async () => {
      const answer = await this.ctx.probes.send(`probe:${target}`, spec.query, spec.product ? { id: this.ctx.probeProduct.id } : {}, spec.asCustomer ? this.ctx.customer.token : undefined, 5000);
      return !answer.code;
    };
  }

  /** The bot serves: a new person's /start and contact are answered (getUpdates and sendMessage work). */
  private async botProbe(): Promise<boolean> {
    try {
      await bindChat(this.ctx.telegram, newPhone(), 3000);
      return true;
    } catch {
      return false;
    }
  }

  /** The auth service answers requestOtp (its limits and codes live in Redis). */
  private async loginCodeRequestProbe(): Promise<boolean> {
    const answer = await this.ctx.probes.send('probe:requestOtp', `mutation SoakProbeOtp($phone: String!) { requestOtp(phone: $phone) { expiresAt } }`, { phone: newPhone() }, undefined, 5000);
    return !answer.code;
  }

  /** A stock change goes from the inventory's outbox through Redis to a subscriber at the gateway. */
  private async stockEventProbe(): Promise<boolean> {
    const { shop, probeProduct, admin } = this.ctx;
    const client = createClient({ url: shop.gatewayUrl.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    try {
      let target: number | undefined;
      const seen: number[] = [];
      const done = new Promise<boolean>((resolve) => {
        client.subscribe<{ stockUpdated: { available: number } }>(
          { query: STOCK_UPDATED, variables: { ids: [probeProduct.id] } },
          {
            next: (result) => {
              const available = result.data?.stockUpdated.available;
              if (available === undefined) return;
              seen.push(available);
              if (target !== undefined && seen.includes(target)) resolve(true);
            },
            error: () => resolve(false),
            complete: () => resolve(false),
          },
        );
        setTimeout(() => resolve(false), 4000);
      });
      // Time for the subscription to reach the gateway's Redis listener.
      await pause(300);
      const answer = await this.ctx.probes.send<{ adjustStock: { available: number } }>(
        'probe:adjustStock',
        `mutation SoakProbeAdjust($id: ID!) { adjustStock(productId: $id, delta: 1, reason: "soak probe") { available } }`,
        { id: probeProduct.id },
        admin.token,
        5000,
      );
      target = answer.data?.adjustStock.available;
      if (target === undefined) return false;
      if (seen.includes(target)) return true;
      return await done;
    } finally {
      void client.dispose();
    }
  }

  /** pg_terminate_backend of every session of one service (its sessions carry application_name shop_<schema>). */
  private async terminateSessions(target: SubgraphName): Promise<number> {
    const client = new pg.Client(pgConfig(this.ctx.databaseUrl));
    await client.connect();
    try {
      const { rows } = await client.query<{ terminated: boolean }>(
        `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()`,
        [databaseName(this.ctx.databaseUrl), applicationName(target)],
      );
      return rows.filter((row) => row.terminated).length;
    } finally {
      await client.end();
    }
  }
}
