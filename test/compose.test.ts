import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import { builtFiles, nodeScript } from './support/build-output';

const ROOT = path.resolve(__dirname, '..');
const SUBGRAPHS = ['auth', 'catalog', 'inventory', 'order', 'notification'];
const APP_SERVICES = [...SUBGRAPHS, 'gateway'];
const PORTS: Record<string, number> = { gateway: 4000, auth: 4001, catalog: 4002, inventory: 4003, order: 4004, notification: 4005 };

/**
 * `docker-compose config` (Debian's docker-compose 1.29) checks and renders docker-compose.yml without
 * a Docker engine. A clean environment and an empty env file, so a developer's own .env changes nothing.
 */
function composeConfig(env: Record<string, string>) {
  const emptyEnvFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'compose-')), 'empty.env');
  fs.writeFileSync(emptyEnvFile, '');
  const result = spawnSync('docker-compose', ['--env-file', emptyEnvFile, '-f', 'docker-compose.yml', 'config'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: os.tmpdir(), ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  fs.rmSync(path.dirname(emptyEnvFile), { recursive: true, force: true });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('docker-compose is not installed: apt-get install -y --no-install-recommends docker-compose (.ci/run does it)');
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

type Service = {
  environment?: Record<string, string>;
  command?: string[];
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition: string }>;
  ports?: Array<{ published: number | string; target: number }>;
  volumes?: string[];
  container_name?: string;
  restart?: string;
};
type Rendered = { services: Record<string, Service>; volumes?: Record<string, unknown> };

describe('docker-compose.yml', () => {
  const token = '123456:' + randomBytes(16).toString('hex');

  it('refuses to render without JWT_SECRET, saying how to make one', () => {
    const result = composeConfig({ TELEGRAM_BOT_TOKEN: token });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('set JWT_SECRET to a random secret of 32+ bytes of your own, e.g. the output of openssl rand -base64 48');
  });

  it('refuses to render without TELEGRAM_BOT_TOKEN, which auth and notification need in production', () => {
    const result = composeConfig({ JWT_SECRET: randomBytes(48).toString('base64') });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('set TELEGRAM_BOT_TOKEN to the token of your bot from @BotFather');
  });

  it('runs every service in production with the operator\'s secret', () => {
    const secret = randomBytes(48).toString('base64');
    const result = composeConfig({ JWT_SECRET: secret, TELEGRAM_BOT_TOKEN: token });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const { services } = parse(result.stdout) as Rendered;
    const withSecret = Object.keys(services).filter((name) => services[name]!.environment?.JWT_SECRET !== undefined);
    expect(withSecret.sort()).toEqual([...APP_SERVICES].sort());
    for (const name of APP_SERVICES) {
      expect({ name, ...services[name]!.environment }).toMatchObject({ name, NODE_ENV: 'production', JWT_SECRET: secret, TELEGRAM_BOT_TOKEN: token });
    }
    expect(services.gateway!.environment).toMatchObject({ GATEWAY_HOST: '0.0.0.0' });
  });

  it('runs another NODE_ENV when told to', () => {
    const result = composeConfig({ JWT_SECRET: randomBytes(48).toString('base64'), TELEGRAM_BOT_TOKEN: token, NODE_ENV: 'development' });
    expect(result.status).toBe(0);
    const { services } = parse(result.stdout) as Rendered;
    expect(APP_SERVICES.map((name) => services[name]!.environment?.NODE_ENV)).toEqual(APP_SERVICES.map(() => 'development'));
  });

  describe('as rendered', () => {
    let services: Rendered['services'];
    let volumes: Rendered['volumes'];
    beforeAll(() => {
      const result = composeConfig({ JWT_SECRET: randomBytes(48).toString('base64'), TELEGRAM_BOT_TOKEN: token });
      expect(result.status).toBe(0);
      ({ services, volumes } = parse(result.stdout) as Rendered);
    });

    it('runs what npm run build compiles, with plain node', () => {
      const built = new Set(builtFiles());
      const commands = Object.fromEntries([...APP_SERVICES, 'migrate'].map((name) => [name, nodeScript(services[name]!.command)]));
      expect(commands).toEqual({
        ...Object.fromEntries(SUBGRAPHS.map((name) => [name, `dist/subgraphs/${name}/src/main.js`])),
        gateway: 'dist/gateway/src/main.js',
        migrate: 'dist/scripts/db/migrate.js',
      });
      expect(Object.values(commands).filter((script) => !built.has(script!))).toEqual([]);
    });

    it('checks every long-running service\'s health, ours on their own /ready', () => {
      const running = Object.keys(services).filter((name) => name !== 'migrate');
      expect(running.filter((name) => !services[name]!.healthcheck?.test?.length)).toEqual([]);
      const built = new Set(builtFiles());
      for (const name of APP_SERVICES) {
        const test = services[name]!.healthcheck!.test!;
        expect({ name, test }).toEqual({ name, test: ['CMD', 'node', 'dist/scripts/healthcheck.js', `http://127.0.0.1:${PORTS[name]}/ready`] });
        expect(built.has(test[2]!)).toBe(true);
      }
    });

    it('migrates once, before any of ours starts, and starts each once what it needs is healthy', () => {
      expect(services.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
      expect(services.migrate!.restart).toBe('no');
      const needs = { migrate: { condition: 'service_completed_successfully' }, redis: { condition: 'service_healthy' } };
      for (const name of SUBGRAPHS) expect({ name, depends_on: services[name]!.depends_on }).toEqual({ name, depends_on: needs });
      expect(services.gateway!.depends_on).toEqual({
        ...needs,
        ...Object.fromEntries(SUBGRAPHS.map((name) => [name, { condition: 'service_healthy' }])),
      });
    });

    it('can run several of each of ours: no fixed names, no host ports but the gateway\'s', () => {
      expect(Object.keys(services).filter((name) => services[name]!.container_name !== undefined)).toEqual([]);
      expect(Object.keys(services).filter((name) => services[name]!.ports?.length)).toEqual(['gateway']);
      expect(services.gateway!.ports).toEqual([{ published: 4000, target: 4000 }]);
    });

    it('keeps Redis\'s streams across a restart: append-only, on a volume', () => {
      const redis = services.redis!;
      expect(redis.command?.join(' ')).toMatch(/--appendonly yes\b/);
      expect(redis.volumes).toEqual(['redisdata:/data:rw']);
      expect(volumes).toHaveProperty('redisdata');
    });
  });

  it('publishes several gateways on a range of host ports, for a load balancer in front', () => {
    const result = composeConfig({ JWT_SECRET: randomBytes(48).toString('base64'), TELEGRAM_BOT_TOKEN: token, GATEWAY_PUBLISH: '4000-4001' });
    expect(result.status).toBe(0);
    const { services } = parse(result.stdout) as Rendered;
    expect(services.gateway!.ports).toEqual([{ published: '4000-4001', target: 4000 }]);
  });
});
