import fs from 'node:fs';
import dotenv from 'dotenv';
import { z } from 'zod';
import { projectPath } from './project-root';
import { productionSecretProblem } from './secrets';

/** A missing or malformed environment variable: the message is one line naming it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

let dotenvLoaded = false;

/** Loads `.env` from the project root once; real environment variables win. */
export function loadDotenv(): void {
  if (dotenvLoaded) return;
  dotenvLoaded = true;
  const file = projectPath('.env');
  if (fs.existsSync(file)) dotenv.config({ path: file, quiet: true });
}

/**
 * Parses `env` against `shape`; the first problem becomes a one-line ConfigError naming the variable.
 * In production the secrets it read must also be strong and unpublished (./secrets.ts).
 */
export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<S>> {
  if (env === process.env) loadDotenv();
  // Empty strings count as unset so `FOO=` in .env falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = z.object(shape).safeParse(cleaned);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const problem = issue.code === 'invalid_type' && cleaned[name] === undefined ? 'is required' : issue.message;
    throw new ConfigError(`Invalid configuration: ${name} ${problem}`);
  }
  const values = result.data as Record<string, unknown>;
  if (values.NODE_ENV === 'production') {
    const problem = productionSecretProblem(values);
    if (problem) throw new ConfigError(`Invalid configuration: ${problem}`);
  }
  return result.data;
}

/** Reusable variable types so every service parses the same variable the same way. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  url: () => z.string().url({ message: 'must be a URL' }),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  list: () =>
    z
      .string()
      .default('')
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
  nodeEnv: () => z.enum(['development', 'production', 'test']).default('development'),
  /**
   * DATABASE_ROLE: the PostgreSQL role a service's sessions work as, its own (shop_<schema>), so that
   * the database itself keeps each service out of the others' schemas. `none` works as the user
   * DATABASE_URL logs in as (a service that logs in as its role needs no switch, but one does no harm).
   */
  databaseRole: (fallback: string) =>
    z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be a role name, or none' })
      .default(fallback)
      .transform((v) => (v === 'none' ? undefined : v)),
};

/** GET /metrics (Prometheus), in every service and the gateway (README, "Limits and production settings"). */
export const metricsConfigShape = {
  /** When set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise). */
  METRICS_TOKEN: z.string().optional(),
  /** When set, /metrics is served on this port (same host) instead of the service's own. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
};

/** How a process stops on SIGTERM (README, "Reloading and stopping"): every service and the gateway read these. */
export const shutdownConfigShape = {
  /** From SIGTERM to exit at the latest: what is still running then is cut off, and the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: env.positiveInt(10_000),
  /** /ready answers 503 this long before the port closes, so a load balancer stops sending new work first. */
  SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).default(0),
};
export type ShutdownConfig = z.infer<z.ZodObject<typeof shutdownConfigShape>>;

/** Variables every service reads. */
export const commonConfigShape = {
  ...metricsConfigShape,
  ...shutdownConfigShape,
  NODE_ENV: env.nodeEnv(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Append log lines to this file instead of writing them to stdout. */
  LOG_FILE: z.string().optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, { message: 'must be a postgresql:// URL' }),
  /**
   * Connections each service keeps open to PostgreSQL. A few per process: beyond about twice the database's
   * cores, statements queue inside PostgreSQL, where waiting costs CPU (measured in docs/benchmarks.md).
   */
  DATABASE_POOL_SIZE: env.positiveInt(4),
  /**
   * The hot statements are prepared on each connection under a name (parsed and planned once). Set false
   * behind a pooler that cannot keep named statements (PgBouncer before 1.21, or without max_prepared_statements).
   */
  DATABASE_NAMED_STATEMENTS: env.bool(true),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, { message: 'must be a redis:// URL' }).default('redis://127.0.0.1:6379'),
  /** Prefix for every Redis key and channel, so that test runs sharing one Redis never collide. */
  REDIS_KEY_PREFIX: z.string().default('shop:'),
  /** A call to another service (GraphQL over HTTP) that has not answered by then fails as unavailable. */
  SERVICE_CALL_TIMEOUT_MS: env.positiveInt(10_000),
};
