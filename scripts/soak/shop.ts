/**
 * The whole shop as child processes (five subgraphs and the gateway, started as the benchmarks start
 * them: scripts/bench/harness.ts), on ports that stay the same across restarts, so that one process
 * can be killed with SIGKILL and started again while the others keep running.
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, serviceEnv, startService, stopService, type Service } from '../bench/harness';

import { ENTRIES, SUBGRAPHS, type ProcessName, type SubgraphName } from '../lib/processes';

export interface ShopOptions {
  databaseUrl: string;
  redisUrl: string;
  telegram: { token: string; apiRoot: string };
  adminPhones: string[];
  /** Each process's stdout lines go to `<logDir>/<name>.log`. */
  logDir: string;
  /** For every process. */
  env?: Record<string, string>;
}

/** The application_name a service's PostgreSQL sessions carry: its own role's name, shop_<schema>. */
export const applicationName = (name: SubgraphName) => `shop_${name}`;

function withApplicationName(databaseUrl: string, name: string): string {
  const [address, query = ''] = databaseUrl.split(/\?(.*)/s);
  const params = new URLSearchParams(query);
  params.set('application_name', name);
  return `${address}?${params}`;
}

export class Shop {
  private readonly running = new Map<ProcessName, Service>();
  private readonly logs = new Map<ProcessName, fs.WriteStream>();
  /** Restarts of each process (0 for the first start). */
  readonly starts = new Map<ProcessName, number>();

  private constructor(
    readonly env: Record<string, string>,
    readonly ports: Record<ProcessName, number>,
    private readonly options: ShopOptions,
  ) {}

  get gatewayUrl(): string {
    return `http://127.0.0.1:${this.ports.gateway}/graphql`;
  }

  get keyPrefix(): string {
    return this.env.REDIS_KEY_PREFIX!;
  }

  static async start(options: ShopOptions): Promise<Shop> {
    const ports = {} as Record<ProcessName, number>;
    for (const name of [...SUBGRAPHS, 'gateway'] as const) ports[name] = await freePort();
    const { env: base } = serviceEnv(options.databaseUrl, ports);
    const env: Record<string, string> = {
      ...base,
      REDIS_URL: options.redisUrl,
      TELEGRAM_BOT_TOKEN: options.telegram.token,
      TELEGRAM_API_BASE_URL: options.telegram.apiRoot,
      ADMIN_PHONES: options.adminPhones.join(','),
      // Many people log in from one address (the soak's).
      OTP_IP_LIMIT_PER_HOUR: '1000000',
      OTP_PHONE_LIMIT_PER_HOUR: '1000',
      ...options.env,
    };
    fs.mkdirSync(options.logDir, { recursive: true });
    const shop = new Shop(env, ports, options);
    try {
      await Promise.all(SUBGRAPHS.map((name) => shop.startProcess(name)));
      await shop.startProcess('gateway');
    } catch (error) {
      await shop.stop();
      throw error;
    }
    return shop;
  }

  /** The environment of one process: a subgraph's sessions are named after its role (so its connections can be found in pg_stat_activity). */
  private envOf(name: ProcessName): Record<string, string> {
    if (name === 'gateway') return this.env;
    return { ...this.env, DATABASE_URL: withApplicationName(this.options.databaseUrl, applicationName(name)) };
  }

  private log(name: ProcessName): fs.WriteStream {
    let stream = this.logs.get(name);
    if (!stream) {
      stream = fs.createWriteStream(path.join(this.options.logDir, `${name}.log`), { flags: 'a' });
      this.logs.set(name, stream);
    }
    return stream;
  }

  /** Starts one process and waits until its /ready answers. */
  async startProcess(name: ProcessName): Promise<void> {
    const log = this.log(name);
    const count = this.starts.get(name);
    this.starts.set(name, count === undefined ? 0 : count + 1);
    log.write(`--- start ${new Date().toISOString()}\n`);
    const service = await startService(name, ENTRIES[name], this.envOf(name), this.ports[name], '/ready', (line) => log.write(`${line}\n`));
    this.running.set(name, service);
  }

  /** SIGKILL, as a crash or an OOM kill: no graceful shutdown, connections cut mid-request. */
  async kill(name: ProcessName): Promise<void> {
    const service = this.running.get(name);
    this.running.delete(name);
    if (!service || service.child.exitCode !== null || service.child.signalCode !== null) return;
    const exited = new Promise((resolve) => service.child.once('exit', resolve));
    service.child.kill('SIGKILL');
    await exited;
  }

  /** True when every process started is still running. */
  deadProcesses(): ProcessName[] {
    return [...this.running.entries()].filter(([, s]) => s.child.exitCode !== null || s.child.signalCode !== null).map(([name]) => name);
  }

  /** Stops every process gracefully: the gateway first, then the subgraphs. */
  async stop(): Promise<void> {
    const gateway = this.running.get('gateway');
    if (gateway) await stopService(gateway);
    await Promise.all([...this.running.entries()].filter(([name]) => name !== 'gateway').map(([, service]) => stopService(service)));
    this.running.clear();
    await Promise.all([...this.logs.values()].map((stream) => new Promise((resolve) => stream.end(resolve))));
    this.logs.clear();
  }
}
