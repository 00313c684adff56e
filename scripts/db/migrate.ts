// npm run db:migrate: `prisma migrate deploy` for DATABASE_URL, creating the database first if needed.
// The Prisma CLI can't migrate offline (it downloads its schema-engine binary); this uses the wasm engine.
import path from 'node:path';
import dotenv from 'dotenv';
import { applyMigrations, databaseName, describeError, ensureDatabase, ROOT_DIR } from './schema-engine';

async function main(): Promise<void> {
  dotenv.config({ path: path.join(ROOT_DIR, '.env'), quiet: true });
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('DATABASE_URL is not set (in the environment or in .env)');

  // Through the server's `postgres` database; on PGlite, whose only database is `postgres`, this finds it.
  if (await ensureDatabase(databaseUrl)) console.log(`Created database ${databaseName(databaseUrl)}`);

  const applied = await applyMigrations(databaseUrl);
  if (applied.length === 0) console.log('No pending migrations');
  for (const name of applied) console.log(name);
}

function fail(error: unknown): void {
  console.error(`db:migrate failed: ${describeError(error)}`);
  process.exit(1);
}

// An engine panic surfaces as an uncaught exception, not as a rejection.
process.on('uncaughtException', fail);
main().catch(fail);
