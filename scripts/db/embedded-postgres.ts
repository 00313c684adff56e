// A PostgreSQL with no server to install: PGlite 0.5 (PostgreSQL 18 in WebAssembly) served over the wire
// protocol on 127.0.0.1, so pg, Prisma and the schema engine connect to it like to any server.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite, type Extension } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

// TypeScript's node10 resolution ignores package "exports", where this subpath's types are declared.
const { pg_trgm } = require('@electric-sql/pglite/contrib/pg_trgm') as { pg_trgm: Extension };

export interface EmbeddedPostgresOptions {
  // A folder, or 'memory://' for a database that vanishes on stop().
  dataDir?: string;
  // 0 picks a free port.
  port?: number;
  // PGlite runs one session: every connection shares it and its queries are queued one at a time.
  maxConnections?: number;
}

export interface EmbeddedPostgres {
  // PGlite has a single database, `postgres`; the name in a client's URL is ignored.
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres({ dataDir = '.data/pglite', port = 5433, maxConnections = 100 }: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const inMemory = dataDir.startsWith('memory://');
  if (!inMemory) mkdirSync(path.resolve(dataDir), { recursive: true });
  const db = await PGlite.create({ dataDir: inMemory ? dataDir : path.resolve(dataDir), extensions: { pg_trgm } });
  keepExtendedQueriesWhole(db);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }
  let stopped = false;
  return {
    url: `postgresql://postgres@${server.getServerConn()}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await db.close();
    },
  };
}

/**
 * PGlite has one session for all socket connections, and pglite-socket queues message by message:
 * another connection's Parse could land between this one's Parse and Bind and replace its unnamed
 * statement ("unnamed prepared statement does not exist"). pglite-socket keeps serving one connection
 * while `isInTransaction()` is true, so report an open extended-query sequence (Parse ... Sync) as one.
 */
function keepExtendedQueriesWhole(db: PGlite): void {
  let sequenceOpen = false;
  const isInTransaction = db.isInTransaction.bind(db);
  const execProtocolRawStream = db.execProtocolRawStream.bind(db);
  const exec = db.exec.bind(db);
  db.isInTransaction = () => sequenceOpen || isInTransaction();
  // pglite-socket rolls back with exec() when a connection drops mid-way: that ends any open sequence too.
  db.exec = (query, options) => {
    sequenceOpen = false;
    return exec(query, options);
  };
  db.execProtocolRawStream = async (message, options) => {
    const type = String.fromCharCode(message[0] ?? 0);
    // Parse, Bind, Describe, Execute, Close, Flush open (or continue) a sequence; Sync and a simple Query end it.
    if ('PBDECH'.includes(type)) sequenceOpen = true;
    try {
      return await execProtocolRawStream(message, options);
    } finally {
      if (type === 'S' || type === 'Q' || type === 'X') sequenceOpen = false;
    }
  };
}

// `node --import tsx scripts/db/embedded-postgres.ts [port] [dataDir]`: serve one until SIGTERM (tests run it as a separate process).
if (require.main === module) {
  const [port = '5433', dataDir = '.data/pglite'] = process.argv.slice(2);
  startEmbeddedPostgres({ port: Number(port), dataDir }).then((pg) => {
    console.log(`ready ${pg.url}`);
    const stop = () => void pg.stop().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
