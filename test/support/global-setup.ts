// Jest globalSetup (runs once, in jest's parent process): a fresh, migrated database for this run.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { applyMigrations, dropDatabase, ensureDatabase, parseDatabaseUrl, withDatabase } from '../../scripts/db/schema-engine';

const TEST_DATABASE = /^shop_test_(\d+)_[0-9a-f]+$/;
// Older than this, a shop_test_ database is a leftover of a run that never reached its teardown.
const STALE_AFTER_MS = 3 * 60 * 60 * 1000;

export function testServerUrl(): string {
  return process.env.TEST_DATABASE_SERVER_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
}

// The creation time is in the name, so a later run can tell leftovers by age.
export function newTestDatabaseUrl(): string {
  return withDatabase(testServerUrl(), `shop_test_${Date.now()}_${randomBytes(4).toString('hex')}`);
}

async function dropStaleTestDatabases(serverUrl: string): Promise<void> {
  const { schema: _schema, ...config } = parseDatabaseUrl(withDatabase(serverUrl, 'postgres'));
  const client = new pg.Client(config);
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'shop\\_test\\_%'");
    const stale = rows.map((row) => row.datname).filter((name) => Date.now() - Number(TEST_DATABASE.exec(name)?.[1] ?? Infinity) > STALE_AFTER_MS);
    // Another run may be dropping the same leftover: its failure is not ours.
    await Promise.all(stale.map((name) => dropDatabase(withDatabase(serverUrl, name)).catch(() => undefined)));
  } finally {
    await client.end();
  }
}

declare global {
  // Read back by global-teardown.ts, which runs in the same process.
  var __SHOP_TEST_DATABASE_URL__: string | undefined;
}

export default async function globalSetup(): Promise<void> {
  const serverUrl = testServerUrl();
  await dropStaleTestDatabases(serverUrl);
  const databaseUrl = newTestDatabaseUrl();
  await ensureDatabase(databaseUrl);
  globalThis.__SHOP_TEST_DATABASE_URL__ = databaseUrl;
  try {
    await applyMigrations(databaseUrl);
  } catch (error) {
    // Jest skips globalTeardown when globalSetup fails.
    await dropDatabase(databaseUrl);
    throw error;
  }
  // Jest starts its test workers (and the in-band runtime) with this process's environment.
  process.env.DATABASE_URL = databaseUrl;
}
