import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';

const ROOT = path.resolve(__dirname, '..');
const APP_SERVICES = ['auth', 'catalog', 'inventory', 'order', 'notification', 'gateway'];

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

type Rendered = { services: Record<string, { environment?: Record<string, string> }> };

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
});
