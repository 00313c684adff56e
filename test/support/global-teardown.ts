// Jest globalTeardown: drops the database global-setup.ts created, even if a test still holds connections.
import { dropDatabase } from '../../scripts/db/schema-engine';

export default async function globalTeardown(): Promise<void> {
  const databaseUrl = globalThis.__SHOP_TEST_DATABASE_URL__;
  if (!databaseUrl) return;
  await dropDatabase(databaseUrl);
  globalThis.__SHOP_TEST_DATABASE_URL__ = undefined;
}
