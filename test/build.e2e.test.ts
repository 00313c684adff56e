// `npm run build` as the image runs it: tsc -p tsconfig.build.json (here into a directory of its own),
// then services started from the output with plain node, no tsx, from another working directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import packageJson from '../package.json';
import { gql } from '../generated/graphql/gateway';
import { BUILD_CONFIG, builtFiles } from './support/build-output';
import { eventually } from './support/eventually';
import { graphql } from './support/graphql';
import { deleteRedisKeys, freePort, TEST_JWT_SECRET } from './support/stack';

const ROOT = path.resolve(__dirname, '..');
const PRODUCT_COUNT = gql(`query BuiltProductCount { products(first: 1) { totalCount } }`);
// Nothing listens there: the subgraphs this test does not start are simply down.
const NOWHERE = 'http://127.0.0.1:9/graphql';

/** Runs to the end; its output when it fails. */
function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

/** A built service: plain node on its compiled main.js, from a working directory outside the project. */
class BuiltService {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  constructor(script: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, [script], { cwd: os.tmpdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
  }

  /** Until `url` answers /health, or the process ends (then its output says why). */
  async healthy(url: string): Promise<void> {
    let ended = false;
    void this.exited.then(() => (ended = true));
    await eventually(
      () => fetch(new URL('/health', url)).then((response) => response.ok, () => false),
      (ok) => {
        if (ended) throw new Error(`exited before it was healthy:\n${this.output}`);
        return ok;
      },
      30_000,
      200,
    );
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** The packages a compiled file loads (require() and import() of a package, not of a file or a Node module). */
function packagesLoadedBy(source: string): string[] {
  const specifiers = [...source.matchAll(/\b(?:require|import)\(\s*["']([^"']+)["']\s*\)/g)].map((match) => match[1]!);
  return specifiers
    .filter((specifier) => !specifier.startsWith('.') && !specifier.startsWith('node:') && !builtinModules.includes(specifier.split('/')[0]!))
    .map((specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/'));
}

function* javascriptFiles(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* javascriptFiles(file);
    else if (entry.name.endsWith('.js')) yield file;
  }
}

describe('npm run build', () => {
  // Inside the project, as dist/ is (.scratch/ is ignored by git and by the secret check): the built code
  // finds node_modules, and the project's root with its SDL and supergraph, above it.
  let outDir: string;

  beforeAll(async () => {
    fs.mkdirSync(path.join(ROOT, '.scratch'), { recursive: true });
    outDir = fs.mkdtempSync(path.join(ROOT, '.scratch', 'build-'));
    const result = await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', BUILD_CONFIG, '--outDir', outDir]);
    if (result.code !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${result.output}`);
  }, 180_000);

  afterAll(() => {
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  });

  it('compiles every file tsconfig.build.json names, the commands the deployments run among them', () => {
    const files = builtFiles(outDir).map((file) => path.join(ROOT, file));
    expect(files.filter((file) => !fs.existsSync(file))).toEqual([]);
    const entryPoints = ['gateway/src/main.js', ...['auth', 'catalog', 'inventory', 'order', 'notification'].map((name) => `subgraphs/${name}/src/main.js`), 'scripts/db/migrate.js', 'scripts/healthcheck.js'];
    expect(entryPoints.filter((entry) => !files.includes(path.join(outDir, entry)))).toEqual([]);
  });

  it('loads only production dependencies, which are all the image installs (npm ci --omit=dev)', () => {
    const production = new Set(Object.keys(packageJson.dependencies));
    const missing: string[] = [];
    for (const file of javascriptFiles(outDir)) {
      for (const name of packagesLoadedBy(fs.readFileSync(file, 'utf8'))) {
        if (!production.has(name)) missing.push(`${path.relative(outDir, file)}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
    // The scan itself: the gateway's entry point loads nothing but files, its app loads packages.
    expect(packagesLoadedBy(fs.readFileSync(path.join(outDir, 'gateway/src/app.js'), 'utf8'))).toContain('@apollo/gateway');
  });

  describe('a built catalog behind a built gateway, with plain node', () => {
    const prefix = `test:${randomBytes(4).toString('hex')}:`;
    const services: BuiltService[] = [];
    let catalogUrl: string;
    let gatewayUrl: string;

    beforeAll(async () => {
      const [catalogPort, gatewayPort] = [await freePort(), await freePort()];
      catalogUrl = `http://127.0.0.1:${catalogPort}/graphql`;
      gatewayUrl = `http://127.0.0.1:${gatewayPort}/graphql`;
      const env = {
        PATH: process.env.PATH!,
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        DATABASE_URL: process.env.DATABASE_URL!,
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        REDIS_KEY_PREFIX: prefix,
        JWT_SECRET: TEST_JWT_SECRET,
        CATALOG_PORT: String(catalogPort),
        GATEWAY_PORT: String(gatewayPort),
        CATALOG_URL: catalogUrl,
        AUTH_URL: NOWHERE,
        INVENTORY_URL: NOWHERE,
        ORDER_URL: NOWHERE,
        NOTIFICATION_URL: NOWHERE,
      };
      const catalog = new BuiltService(path.join(outDir, 'subgraphs/catalog/src/main.js'), env);
      services.push(catalog);
      await catalog.healthy(catalogUrl);
      const gateway = new BuiltService(path.join(outDir, 'gateway/src/main.js'), env);
      services.push(gateway);
      await gateway.healthy(gatewayUrl);
    }, 90_000);

    afterAll(async () => {
      await Promise.all(services.map((service) => service.stop()));
      await deleteRedisKeys(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix);
    });

    it('the catalog reads its schema.graphql from the project and is ready on its database and Redis', async () => {
      const response = await fetch(new URL('/ready', catalogUrl));
      expect({ status: response.status, body: await response.json() }).toEqual({
        status: 200,
        body: { status: 'ready', checks: { postgres: 'up', redis: 'up' } },
      });
    });

    it('the gateway reads supergraph.graphql from the project and answers a query from the catalog', async () => {
      expect((await fetch(new URL('/health', gatewayUrl))).status).toBe(200);
      const result = await graphql(gatewayUrl, PRODUCT_COUNT);
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual({ products: { totalCount: 0 } });
    });
  });
});
