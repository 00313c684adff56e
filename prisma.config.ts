import { defineConfig } from 'prisma/config';

// The CLI's view of the project. `url` is only read by commands that talk to a database
// (they need the schema-engine binary; offline we migrate with scripts/db/migrate.ts instead).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://127.0.0.1:5432/shop' },
});
