// npm run db:migration -- <name>: writes prisma/migrations/<UTC timestamp>_<name>/migration.sql with the
// SQL that takes the committed migrations to prisma/schema.prisma (`prisma migrate dev --create-only`).
// Method: replay the migrations in a scratch database, then diff that live database against the schema.
// The scratch database lives on DATABASE_URL's server, or in an in-memory PGlite when DATABASE_URL is unset.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded-postgres';
import {
  applyMigrations,
  describeError,
  diffSql,
  dropDatabase,
  ensureDatabase,
  MIGRATION_LOCK,
  MIGRATIONS_DIR,
  ROOT_DIR,
  SCHEMA_PATH,
  parseDatabaseUrl,
  withDatabase,
} from './schema-engine';

interface ScratchDatabase {
  url: string;
  dispose(): Promise<void>;
}

async function currentDatabase(url: string): Promise<string> {
  const { schema: _schema, ...config } = parseDatabaseUrl(url);
  const client = new pg.Client(config);
  await client.connect();
  try {
    return (await client.query<{ name: string }>('SELECT current_database() AS name')).rows[0].name;
  } finally {
    await client.end();
  }
}

async function scratchDatabase(serverUrl: string | undefined): Promise<ScratchDatabase> {
  if (serverUrl) {
    const name = `shop_migration_scratch_${Date.now()}_${randomBytes(4).toString('hex')}`;
    const url = withDatabase(serverUrl, name);
    await ensureDatabase(url);
    // A PGlite server (npm start without DATABASE_URL) answers every database name with its only one.
    if ((await currentDatabase(url)) === name) return { url, dispose: () => dropDatabase(url) };
    await dropDatabase(url).catch(() => undefined);
  }
  const pglite = await startEmbeddedPostgres({ dataDir: 'memory://', port: 0 });
  return { url: pglite.url, dispose: () => pglite.stop() };
}

// Like Prisma's names: <YYYYMMDDHHMMSS in UTC>_<snake_case name>.
function migrationFolderName(name: string, now = new Date()): string {
  const slug = name.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (!slug) throw new Error('usage: npm run db:migration -- <name>');
  const stamp = now.toISOString().replace(/\D/g, '').slice(0, 14);
  return `${stamp}_${slug}`;
}

async function main(): Promise<void> {
  dotenv.config({ path: path.join(ROOT_DIR, '.env'), quiet: true });
  const folder = migrationFolderName(process.argv.slice(2).join(' '));
  const datamodel = readFileSync(SCHEMA_PATH, 'utf8');

  const scratch = await scratchDatabase(process.env.DATABASE_URL);
  let sql: string;
  try {
    await applyMigrations(scratch.url);
    sql = await diffSql(scratch.url, datamodel);
  } finally {
    await scratch.dispose();
  }

  if (!sql) {
    console.log('No changes');
    return;
  }
  const dir = path.join(MIGRATIONS_DIR, folder);
  if (existsSync(dir)) throw new Error(`${path.relative(ROOT_DIR, dir)} already exists`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'migration.sql'), sql);
  writeFileSync(path.join(MIGRATIONS_DIR, 'migration_lock.toml'), MIGRATION_LOCK);
  console.log(path.relative(ROOT_DIR, path.join(dir, 'migration.sql')));
}

function fail(error: unknown): void {
  console.error(`db:migration failed: ${describeError(error)}`);
  process.exit(1);
}

// An engine panic surfaces as an uncaught exception, not as a rejection.
process.on('uncaughtException', fail);
main().catch(fail);
