import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, commonConfigShape, loadConfig } from '../src/config';
import { jwtConfigShape } from '../src/jwt';
import { PROJECT_ROOT, productionSecretProblem } from '../src/secrets';
import { TEST_JWT_SECRET } from '../../test/support/stack';

const shape = { ...commonConfigShape, ...jwtConfigShape };
const DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/unused';
const fresh = () => randomBytes(48).toString('base64');

/** The ConfigError message loadConfig throws for `env`, or undefined when it accepts it. */
function refusal(env: Record<string, string>): string | undefined {
  try {
    loadConfig(shape, { DATABASE_URL, ...env });
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
}

/** The example value a variable has in .env.example (`# NAME=value  # comment`). */
function exampleOf(variable: string): string {
  const line = fs.readFileSync(path.join(PROJECT_ROOT, '.env.example'), 'utf8').match(new RegExp(`^# ${variable}=(\\S+)`, 'm'));
  if (!line) throw new Error(`.env.example has no example for ${variable}`);
  return line[1]!;
}

describe('secrets in production', () => {
  it('refuses the tests\' JWT secret, naming the file that publishes it without printing it', () => {
    const message = refusal({ NODE_ENV: 'production', JWT_SECRET: TEST_JWT_SECRET });
    const [, file] = message?.match(/^Invalid configuration: JWT_SECRET is written in (\S+), so it is no secret; set one of your own \(e\.g\. openssl rand -base64 48\)$/) ?? [];
    expect(file).toBe('test/support/stack.ts');
    expect(fs.readFileSync(path.join(PROJECT_ROOT, file!), 'utf8')).toContain(TEST_JWT_SECRET);
    expect(message).not.toContain(TEST_JWT_SECRET);
  });

  it('refuses the example of .env.example', () => {
    const example = exampleOf('JWT_SECRET');
    expect(example.length).toBeGreaterThanOrEqual(32);
    expect(refusal({ NODE_ENV: 'production', JWT_SECRET: example })).toBe(
      'Invalid configuration: JWT_SECRET is written in .env.example, so it is no secret; set one of your own (e.g. openssl rand -base64 48)',
    );
  });

  it('refuses a Telegram bot token written in the repository (the fake Bot API\'s), and accepts one of your own', () => {
    const withBot = { ...shape, TELEGRAM_BOT_TOKEN: z.string().optional() };
    const published = '123456789:AAFakeTokenForTests-0123456789abcdefghi';
    expect(() => loadConfig(withBot, { DATABASE_URL, NODE_ENV: 'production', JWT_SECRET: fresh(), TELEGRAM_BOT_TOKEN: published })).toThrow(
      /^Invalid configuration: TELEGRAM_BOT_TOKEN is written in \S+, so it is no secret; set one of your own \(e\.g\. your bot's own token from @BotFather\)$/,
    );
    const own = `7${randomBytes(4).readUInt32BE()}:${randomBytes(26).toString('base64url')}`;
    expect(loadConfig(withBot, { DATABASE_URL, NODE_ENV: 'production', JWT_SECRET: fresh(), TELEGRAM_BOT_TOKEN: own }).TELEGRAM_BOT_TOKEN).toBe(own);
  });

  it('accepts a fresh random secret of 48 bytes', () => {
    const secret = fresh();
    expect(loadConfig(shape, { DATABASE_URL, NODE_ENV: 'production', JWT_SECRET: secret }).JWT_SECRET).toBe(secret);
  });

  it.each([
    ['one character repeated', 'a'.repeat(48)],
    ['nine distinct characters', '012345678'.repeat(4)],
    ['a repeated pattern', 'abcdefghijklmnop'.repeat(3)],
  ])('refuses a secret that is not random: %s', (_name, secret) => {
    expect(refusal({ NODE_ENV: 'production', JWT_SECRET: secret })).toBe(
      'Invalid configuration: JWT_SECRET is not random enough (fewer than 10 distinct characters, or a repeated pattern); use e.g. openssl rand -base64 48',
    );
  });

  it('holds OTP_SECRET to the same rules', () => {
    const otpShape = { ...shape, OTP_SECRET: z.string().optional() };
    const load = (OTP_SECRET: string) => loadConfig(otpShape, { DATABASE_URL, NODE_ENV: 'production', JWT_SECRET: fresh(), OTP_SECRET });
    expect(() => load(TEST_JWT_SECRET)).toThrow(
      new ConfigError('Invalid configuration: OTP_SECRET is written in test/support/stack.ts, so it is no secret; set one of your own (e.g. openssl rand -base64 48)'),
    );
    expect(() => load('x'.repeat(40))).toThrow(/^Invalid configuration: OTP_SECRET is not random enough/);
    const secret = fresh();
    expect(load(secret).OTP_SECRET).toBe(secret);
  });

  it('wants 32 characters of a webhook secret (Telegram allows 1-256 of A-Z a-z 0-9 _ -)', () => {
    const webhookShape = { ...shape, TELEGRAM_WEBHOOK_SECRET: z.string().optional() };
    const load = (TELEGRAM_WEBHOOK_SECRET: string, NODE_ENV = 'production') =>
      loadConfig(webhookShape, { DATABASE_URL, NODE_ENV, JWT_SECRET: fresh(), TELEGRAM_WEBHOOK_SECRET });
    const short = randomBytes(12).toString('hex');
    expect(() => load(short)).toThrow(
      new ConfigError('Invalid configuration: TELEGRAM_WEBHOOK_SECRET must be at least 32 bytes in production (e.g. openssl rand -hex 32)'),
    );
    expect(load(short, 'development').TELEGRAM_WEBHOOK_SECRET).toBe(short);
    const secret = randomBytes(32).toString('hex');
    expect(load(secret).TELEGRAM_WEBHOOK_SECRET).toBe(secret);
  });

  it.each(['development', 'test'])('accepts a published or patterned secret in %s, as before', (NODE_ENV) => {
    expect(refusal({ NODE_ENV, JWT_SECRET: TEST_JWT_SECRET })).toBeUndefined();
    expect(refusal({ NODE_ENV, JWT_SECRET: exampleOf('JWT_SECRET') })).toBeUndefined();
    expect(refusal({ NODE_ENV, JWT_SECRET: 'x'.repeat(32) })).toBeUndefined();
  });

  it('still wants 32 characters of JWT_SECRET everywhere', () => {
    expect(refusal({ NODE_ENV: 'development', JWT_SECRET: 'short' })).toBe('Invalid configuration: JWT_SECRET must be at least 32 characters');
  });
});

describe('the scan of the project\'s files', () => {
  let root: string;
  const write = (file: string, text: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-scan-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('finds a secret in any text file, however deep', () => {
    const secret = fresh();
    write('docs/deploy/notes.md', `JWT_SECRET=${secret}\n`);
    expect(productionSecretProblem({ JWT_SECRET: secret }, root)).toBe(
      'JWT_SECRET is written in docs/deploy/notes.md, so it is no secret; set one of your own (e.g. openssl rand -base64 48)',
    );
  });

  it('skips what does not ship (dependencies, data, build output, git, .env files and logs), binaries and large files', () => {
    const secret = fresh();
    for (const file of ['node_modules/x/index.js', '.data/jwt-secret', '.git/config', 'generated/client.ts', 'dist/a.js', 'coverage/a.json', '.env', '.env.production', 'server.log']) {
      write(file, secret);
    }
    write('image.bin', Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(secret)]));
    write('large.txt', 'x'.repeat(1024 * 1024) + secret);
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(root, 'linked'));
    expect(productionSecretProblem({ JWT_SECRET: secret }, root)).toBeUndefined();

    write('.env.example', `# JWT_SECRET=${secret}\n`);
    expect(productionSecretProblem({ JWT_SECRET: secret }, root)).toMatch(/^JWT_SECRET is written in \.env\.example,/);
  });

  it('finds a committed private key, whether written with line breaks or with \\n escapes', () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const escaped = pem.trim().replace(/\n/g, '\\n');
    expect(productionSecretProblem({ JWT_PRIVATE_KEY: escaped }, root)).toBeUndefined();

    write('test/keys.ts', `export const KEY = \`${pem}\`;\n`);
    expect(productionSecretProblem({ JWT_PRIVATE_KEY: escaped }, root)).toBe(
      'JWT_PRIVATE_KEY is written in test/keys.ts, so it is no secret; set one of your own (e.g. a new key pair)',
    );
    fs.rmSync(path.join(root, 'test/keys.ts'));
    write('.env.example', `JWT_PRIVATE_KEY=${escaped}\n`);
    expect(productionSecretProblem({ JWT_PRIVATE_KEY: pem }, root)).toMatch(/^JWT_PRIVATE_KEY is written in \.env\.example,/);
  });
});

describe('a service started in production with a published secret', () => {
  const start = (main: string, env: Record<string, string>) => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', main], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', DATABASE_URL, LOG_LEVEL: 'silent', ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: result.status, stderr: result.stderr.trim() };
  };

  it.each([
    ['catalog', 'subgraphs/catalog/src/main.ts', { CATALOG_PORT: '0' }],
    ['gateway', 'gateway/src/main.ts', { GATEWAY_PORT: '0' }],
  ])('%s exits 1 with one line naming the variable and the file', (name, main, env) => {
    const result = start(main, { ...env, JWT_SECRET: TEST_JWT_SECRET });
    expect(result).toEqual({
      status: 1,
      stderr: `${name}: Invalid configuration: JWT_SECRET is written in test/support/stack.ts, so it is no secret; set one of your own (e.g. openssl rand -base64 48)`,
    });
  });
});
