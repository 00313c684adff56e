// The migration to one sequence for inventory item versions, on a database that has data from before it.
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { applyMigrations, dropDatabase, ensureDatabase, MIGRATIONS_DIR, parseDatabaseUrl } from '../../scripts/db/schema-engine';
import { newTestDatabaseUrl } from '../support/global-setup';

const MIGRATION = readdirSync(MIGRATIONS_DIR).find((name) => name.endsWith('_item_versions_sequence'))!;

const STUCK = '00000000-0000-4000-8000-000000000001';
const PLAIN = '00000000-0000-4000-8000-000000000002';
const GONE = '00000000-0000-4000-8000-000000000003';

// Each source of past versions in turn holds the highest one.
describe.each([
  { highest: 'the catalog', catalogVersion: 20, outboxVersion: 12 },
  { highest: 'the outbox', catalogVersion: 7, outboxVersion: 30 },
])(`migration ${MIGRATION} on a database whose highest version is in $highest`, ({ catalogVersion, outboxVersion }) => {
  const highest = BigInt(Math.max(catalogVersion, outboxVersion));
  const databaseUrl = newTestDatabaseUrl();
  const earlier = mkdtempSync(path.join(tmpdir(), 'shop-migrations-'));
  const through = mkdtempSync(path.join(tmpdir(), 'shop-migrations-'));
  let client: pg.Client;

  beforeAll(async () => {
    expect(MIGRATION).toBeDefined();
    for (const name of readdirSync(MIGRATIONS_DIR)) {
      if (name === 'migration_lock.toml' || name < MIGRATION) cpSync(path.join(MIGRATIONS_DIR, name), path.join(earlier, name), { recursive: true });
      // Later migrations are not this test's business.
      if (name === 'migration_lock.toml' || name <= MIGRATION) cpSync(path.join(MIGRATIONS_DIR, name), path.join(through, name), { recursive: true });
    }
    await ensureDatabase(databaseUrl);
    await applyMigrations(databaseUrl, earlier);
    const { schema: _schema, ...config } = parseDatabaseUrl(databaseUrl);
    client = new pg.Client(config);
    await client.connect();
    // Before: STUCK was deleted and created again (its version went back to 2), so the catalog keeps it out of stock;
    // GONE's last event is only in the outbox and the consumers' memory.
    await client.query(`
      INSERT INTO "catalog"."products" ("id", "sku", "name", "category", "price_amount", "in_stock", "stock_version", "updated_at")
      VALUES ('${STUCK}', 'STUCK-1', 'Stuck kettle', 'kettles', 2500, false, ${catalogVersion}, now()),
             ('${PLAIN}', 'PLAIN-1', 'Plain kettle', 'kettles', 2500, true, 3, now());
      INSERT INTO "inventory"."inventory_items" ("product_id", "on_hand", "version", "updated_at")
      VALUES ('${STUCK}', 4, 2, now()), ('${PLAIN}', 9, 3, now());
      INSERT INTO "inventory"."outbox_events" ("id", "stream", "type", "payload")
      VALUES ('00000000-0000-4000-8000-0000000000aa', 'inventory', 'StockChanged', '{"productId": "${GONE}", "version": ${outboxVersion}}');
    `);
  });
  afterAll(async () => {
    await client?.end();
    await dropDatabase(databaseUrl);
    rmSync(earlier, { recursive: true, force: true });
    rmSync(through, { recursive: true, force: true });
  });

  it('lifts every item\'s version above any handed out before, so the catalog\'s resync repairs a stuck product', async () => {
    expect(await applyMigrations(databaseUrl, through)).toEqual([MIGRATION]);
    const { rows: items } = await client.query<{ product_id: string; version: string }>(`SELECT "product_id", "version" FROM "inventory"."inventory_items" ORDER BY "product_id"`);
    expect(items.map((i) => i.product_id)).toEqual([STUCK, PLAIN]);
    // The resync applies only a version above the catalog's; a consumer drops one below what it saw.
    expect(items.every((i) => BigInt(i.version) > highest)).toBe(true);
  });

  it('hands out new versions above those, from the sequence', async () => {
    const { rows } = await client.query<{ version: string }>(
      `INSERT INTO "inventory"."inventory_items" ("product_id", "updated_at") VALUES ('${GONE}', now()) RETURNING "version"`,
    );
    const highest = await client.query<{ max: string }>(`SELECT max("version") FROM "inventory"."inventory_items" WHERE "product_id" <> '${GONE}'`);
    expect(BigInt(rows[0]!.version)).toBeGreaterThan(BigInt(highest.rows[0]!.max));
  });
});
