// Jest globalTeardown: drops the run's template and every test file's copy of it, even if something
// still holds connections.
import fs from 'node:fs';
import { databaseName, dropDatabase, withDatabase } from '../../scripts/db/schema-engine';
import { testDatabases } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const templateUrl = globalThis.__SHOP_TEST_TEMPLATE_URL__;
  if (!templateUrl) return;
  const template = databaseName(templateUrl);
  const copies = await testDatabases(templateUrl, (name) => name.startsWith(`${template}_`));
  for (const name of copies) await dropDatabase(withDatabase(templateUrl, name));
  await dropDatabase(templateUrl);
  globalThis.__SHOP_TEST_TEMPLATE_URL__ = undefined;
  // The reporter has printed the logs of failed files already.
  if (process.env.SHOP_TEST_LOG_DIR) fs.rmSync(process.env.SHOP_TEST_LOG_DIR, { recursive: true, force: true });
}
