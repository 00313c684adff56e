import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCatalogService } from '../src/app';
import { loadCatalogConfig } from '../src/config';
import { startInventoryService } from '../../inventory/src/app';
import { loadInventoryConfig } from '../../inventory/src/config';
import { freePort, testEnv } from '../../../test/support/stack';
import { eventually } from '../../../test/support/eventually';
import type { RunningServer } from '../../../kernel/src/server';

describe('the first stock resync, when the catalog starts before the inventory (npm start starts them side by side)', () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-first-resync-'));
  const logFile = path.join(directory, 'catalog.log');
  const servers: RunningServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    fs.rmSync(directory, { recursive: true, force: true });
  });

  const catalogLog = () =>
    fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string }) : [];

  it('waits quietly for the inventory, then resyncs: no warning', async () => {
    const inventoryPort = await freePort();
    const env = testEnv({ INVENTORY_PORT: String(inventoryPort), INVENTORY_URL: `http://127.0.0.1:${inventoryPort}/graphql` });
    // Given a catalog whose inventory is not up yet,
    servers.push(await startCatalogService(loadCatalogConfig({ ...env, LOG_LEVEL: 'debug', LOG_FILE: logFile })));
    await eventually(async () => catalogLog().filter((line) => /does not answer yet/.test(line.msg)).length, (retries) => retries >= 2);

    // when the inventory comes up a moment later,
    servers.push(await startInventoryService(loadInventoryConfig(env)));

    // then the catalog's first resync reads it, and nothing was worth a warning.
    await eventually(async () => catalogLog(), (lines) => lines.some((line) => line.msg === 'stock projection resynced from the inventory'));
    expect(catalogLog().filter((line) => line.level >= 40)).toEqual([]);
  });
});
