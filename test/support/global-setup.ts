// Jest globalSetup (runs once, in jest's parent process): a fresh, migrated template database for this
// run, which every test file copies (test/support/file-database.ts), and a directory for their logs.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { applyMigrations, dropDatabase, ensureDatabase, parseDatabaseUrl, withDatabase } from '../../scripts/db/schema-engine';

const TEST_DATABASE = /^shop_test_(\d+)_[0-9a-f]+/;
// Older than this, a shop_test_ database is a leftover of a run that never reached its teardown.
const STALE_AFTER_MS = 3 * 60 * 60 * 1000;

export function testServerUrl(): string {
  return process.env.TEST_DATABASE_SERVER_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
}

// The creation time is in the name, so a later run can tell leftovers by age.
export function newTestDatabaseUrl(): string {
  return withDatabase(testServerUrl(), `shop_test_${Date.now()}_${randomBytes(4).toString('hex')}`);
}

/** Names of the databases on the server that match `filter`. */
export async function testDatabases(serverUrl: string, filter: (name: string) => boolean): Promise<string[]> {
  const { schema: _schema, ...config } = parseDatabaseUrl(withDatabase(serverUrl, 'postgres'));
  const client = new pg.Client(config);
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'shop\\_test\\_%'");
    return rows.map((row) => row.datname).filter(filter);
  } finally {
    await client.end();
  }
}

async function dropStaleTestDatabases(serverUrl: string): Promise<void> {
  const stale = await testDatabases(serverUrl, (name) => Date.now() - Number(TEST_DATABASE.exec(name)?.[1] ?? Infinity) > STALE_AFTER_MS);
  // Another run may be dropping the same leftover: its failure is not ours.
  await Promise.all(stale.map((name) => dropDatabase(withDatabase(serverUrl, name)).catch(() => undefined)));
}

declare global {
  // Read back by global-teardown.ts, which runs in the same process.
  var __SHOP_TEST_TEMPLATE_URL__: string | undefined;
}

export default async function globalSetup(): Promise<void> {
  const serverUrl = testServerUrl();
  await dropStaleTestDatabases(serverUrl);
  const templateUrl = newTestDatabaseUrl();
  await ensureDatabase(templateUrl);
  globalThis.__SHOP_TEST_TEMPLATE_URL__ = templateUrl;
  try {
    await applyMigrations(templateUrl);
  } catch (error) {
    // Jest skips globalTeardown when globalSetup fails.
    await dropDatabase(templateUrl);
    throw error;
  }
  // Jest starts its test workers (and the in-band runtime) with this process's environment.
  process.env.SHOP_TEST_TEMPLATE_DATABASE_URL = templateUrl;
  process.env.SHOP_TEST_LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-test-logs-'));
}
