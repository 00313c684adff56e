import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { applyMigrations } from '../../scripts/db/schema-engine';
import { createPrisma, type PrismaClient } from '../../kernel/src/prisma';
import { freePort } from '../support/stack';

/** `npm start` without DATABASE_URL: five services, each with its own pool, share one PGlite. */
describe('the embedded PostgreSQL under several concurrent clients', () => {
  let server: ChildProcess;
  let url: string;
  let clients: PrismaClient[];

  beforeAll(async () => {
    // Its own process, as under `npm start` (PGlite's WebAssembly loader does not run inside jest's VM).
    server = spawn(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../../scripts/db/embedded-postgres.ts'), String(await freePort()), 'memory://']);
    url = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: server.stdout! }).on('line', (line) => line.startsWith('ready ') && resolve(line.slice(6)));
      server.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited with ${code}`)));
    });
    await applyMigrations(url);
    clients = Array.from({ length: 5 }, () => createPrisma(url, { max: 2 }));
  }, 60_000);
  afterAll(async () => {
    await Promise.all((clients ?? []).map((c) => c.$disconnect()));
    server?.kill('SIGTERM');
  });

  it("has the services' roles, but applies no connection's role: npm start runs the services without one", async () => {
    const roles = await clients[0]!.$queryRaw<Array<{ name: string }>>`SELECT rolname AS name FROM pg_roles WHERE starts_with(rolname, 'shop_') ORDER BY rolname`;
    expect(roles.map((r) => r.name)).toEqual(['shop_auth', 'shop_catalog', 'shop_inventory', 'shop_notification', 'shop_order']);
    // One session serves every connection: a role a connection asks for is ignored (a SET ROLE would switch them all).
    const asCatalog = createPrisma(url, { max: 1, role: 'shop_catalog' });
    try {
      expect(await asCatalog.$queryRaw`SELECT current_user AS role`).toEqual([{ role: 'postgres' }]);
    } finally {
      await asCatalog.$disconnect();
    }
  });

  it('answers interleaved parameterised queries from every client correctly', async () => {
    const results = await Promise.all(
      // A different statement each time, with a different number of parameters: an unnamed statement
      // replaced by another connection's would bind wrongly or fail.
      Array.from({ length: 200 }, (_, i) =>
        i % 2
          ? clients[i % clients.length]!.$queryRawUnsafe<Array<{ n: number; s: string }>>(`SELECT $1::int AS n, $2::text AS s /* ${i} */`, i, `q${i}`)
          : clients[i % clients.length]!.$queryRawUnsafe<Array<{ n: number; s: string }>>(`SELECT $1::int AS n, 'q' || $1::text AS s /* ${i} */`, i),
      ),
    );
    results.forEach((rows, i) => expect(rows).toEqual([{ n: i, s: `q${i}` }]));
  });

  it("keeps each client's transactions whole: commits stay, rollbacks leave nothing", async () => {
    const committed: string[] = [];
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const client = clients[i % clients.length]!;
        const productId = randomUUID();
        const work = client.$transaction(async (tx) => {
          await tx.inventoryItem.create({ data: { productId, onHand: i } });
          await tx.stockMovement.create({ data: { productId, deltaOnHand: i, deltaReserved: 0, reason: 'embedded test', actor: 'test' } });
          if (i % 3 === 0) throw new Error('roll back');
          // PGlite runs one statement at a time for everyone: thirty transactions queue, as the services' own (15 s) do.
        }, { maxWait: 30_000, timeout: 30_000 });
        if (i % 3 === 0) await expect(work).rejects.toThrow('roll back');
        else {
          await work;
          committed.push(productId);
        }
      }),
    );
    const items = await clients[0]!.inventoryItem.findMany({ where: { productId: { in: committed } } });
    expect(items).toHaveLength(committed.length);
    expect(await clients[1]!.stockMovement.count({ where: { reason: 'embedded test' } })).toBe(committed.length);
  });
});
