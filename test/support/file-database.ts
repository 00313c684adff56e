// Jest setupFilesAfterEnv: each test FILE gets a database of its own, copied from the run's migrated
// template, so no file sees another's rows, and background workers (saga, sender, sweeper) of one
// file's stacks never touch another file's orders. globalTeardown drops them all: an afterAll here
// would run before the file's own top-level afterAll hooks, while its stacks still hold connections.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { databaseName, parseDatabaseUrl, withDatabase } from '../../scripts/db/schema-engine';

const template = process.env.SHOP_TEST_TEMPLATE_DATABASE_URL;
if (!template) throw new Error('SHOP_TEST_TEMPLATE_DATABASE_URL is not set: run the tests through jest (globalSetup makes the template)');

// Named after the template, so the run's teardown (and a later run, by age) finds leftovers.
const databaseUrl = withDatabase(template, `${databaseName(template)}_${randomBytes(4).toString('hex')}`);
// Set now, not in a hook: some test files read it while they are being defined.
process.env.DATABASE_URL = databaseUrl;
// Services of this file's stacks log errors here; the log reporter prints it when a test of the file fails.
const logDirectory = process.env.SHOP_TEST_LOG_DIR;
if (logDirectory) process.env.LOG_FILE = path.join(logDirectory, `${path.relative(process.cwd(), expect.getState().testPath ?? 'unknown').replace(/[\\/]/g, '__')}.log`);

beforeAll(async () => {
  const { schema: _schema, ...config } = parseDatabaseUrl(withDatabase(template, 'postgres'));
  const client = new pg.Client(config);
  await client.connect();
  try {
    // Copies of one template may be made concurrently by several workers; a copy is refused only while
    // someone is connected to the template itself, which nobody is after globalSetup.
    await client.query(`CREATE DATABASE "${databaseName(databaseUrl)}" TEMPLATE "${databaseName(template)}"`);
  } finally {
    await client.end();
  }
}, 60_000);
