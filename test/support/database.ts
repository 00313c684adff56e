import { createPrisma, type PrismaClient } from '../../kernel/src/prisma';

/**
 * The test file's own database (see file-database.ts) as its owner, for what no API shows: saga rows,
 * outbox rows, stock movements. Call it in a describe block (or at the top of a file); the client opens
 * on first use, once the file's database exists, and is closed after the block's tests.
 */
export function useFileDatabase(options: { max?: number } = {}): PrismaClient {
  let client: PrismaClient | undefined;
  afterAll(async () => {
    await client?.$disconnect();
    client = undefined;
  });
  const open = (): PrismaClient => (client ??= createPrisma(process.env.DATABASE_URL!, { max: options.max ?? 2 }));
  // A stand-in that opens the real client when first touched: describe blocks run before the database is made.
  return new Proxy({} as PrismaClient, {
    get(_target, property) {
      const real = open();
      const value: unknown = Reflect.get(real, property);
      return typeof value === 'function' ? value.bind(real) : value;
    },
  });
}

/** `base` extended to record each Prisma operation (one SQL statement each) into `statements`, as "model.operation". */
export function countingStatements(base: PrismaClient, statements: string[]): PrismaClient {
  return base.$extends({
    query: {
      $allOperations: ({ model, operation, args, query }) => {
        statements.push(`${model ?? ''}.${operation}`);
        return query(args);
      },
    },
  }) as unknown as PrismaClient;
}
