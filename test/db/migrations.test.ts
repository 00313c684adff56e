// The committed migrations against a real server: applied like `prisma migrate deploy`, and no drift.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { applyMigrations, databaseName, diffSql, dropDatabase, ensureDatabase, MIGRATIONS_DIR, parseDatabaseUrl, SCHEMA_PATH } from '../../scripts/db/schema-engine';
import { newTestDatabaseUrl } from '../support/global-setup';

const folders = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const sha256 = (name: string) => createHash('sha256').update(readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql'))).digest('hex');

async function query<R extends pg.QueryResultRow>(databaseUrl: string, sql: string): Promise<R[]> {
  const { schema: _schema, ...config } = parseDatabaseUrl(databaseUrl);
  const client = new pg.Client(config);
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('migrations on a fresh database', () => {
  const databaseUrl = newTestDatabaseUrl();
  let firstRun: string[];

  beforeAll(async () => {
    await ensureDatabase(databaseUrl);
    firstRun = await applyMigrations(databaseUrl);
  });
  afterAll(() => dropDatabase(databaseUrl));

  it('applies every migration folder once; a second run applies nothing', async () => {
    expect(folders.length).toBeGreaterThan(0);
    expect(firstRun).toEqual(folders);
    expect(await applyMigrations(databaseUrl)).toEqual([]);
  });

  it('records each migration in public._prisma_migrations with the sha256 of its migration.sql', async () => {
    const rows = await query(
      databaseUrl,
      'SELECT migration_name, checksum, finished_at, rolled_back_at, logs, applied_steps_count FROM public._prisma_migrations ORDER BY migration_name',
    );
    expect(rows).toEqual(
      folders.map((name) => ({ migration_name: name, checksum: sha256(name), finished_at: expect.any(Date), rolled_back_at: null, logs: null, applied_steps_count: 1 })),
    );
  });

  it('creates _prisma_migrations with the columns of the Prisma CLI', async () => {
    const columns = await query(
      databaseUrl,
      `SELECT column_name, data_type, character_maximum_length AS length, is_nullable, column_default
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns).toEqual([
      { column_name: 'id', data_type: 'character varying', length: 36, is_nullable: 'NO', column_default: null },
      { column_name: 'checksum', data_type: 'character varying', length: 64, is_nullable: 'NO', column_default: null },
      { column_name: 'finished_at', data_type: 'timestamp with time zone', length: null, is_nullable: 'YES', column_default: null },
      { column_name: 'migration_name', data_type: 'character varying', length: 255, is_nullable: 'NO', column_default: null },
      { column_name: 'logs', data_type: 'text', length: null, is_nullable: 'YES', column_default: null },
      { column_name: 'rolled_back_at', data_type: 'timestamp with time zone', length: null, is_nullable: 'YES', column_default: null },
      { column_name: 'started_at', data_type: 'timestamp with time zone', length: null, is_nullable: 'NO', column_default: 'now()' },
      { column_name: 'applied_steps_count', data_type: 'integer', length: null, is_nullable: 'NO', column_default: '0' },
    ]);
  });
});

describe('no drift between the migrations and prisma/schema.prisma', () => {
  const datamodel = readFileSync(SCHEMA_PATH, 'utf8');
  const databaseUrl = process.env.DATABASE_URL ?? '';

  it('runs on the database global-setup created and migrated', () => {
    expect(databaseName(databaseUrl)).toMatch(/^shop_test_/);
  });

  it('the migrated database needs no change to match the schema', async () => {
    expect(await diffSql(databaseUrl, datamodel)).toBe('');
  });
});
