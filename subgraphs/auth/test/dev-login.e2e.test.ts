import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import { testEnv } from '../../../test/support/stack';
import { graphql } from '../../../test/support/graphql';
import { randomPhone, REQUEST_OTP, VERIFY_OTP } from '../../../test/support/login';

const ROOT = path.resolve(__dirname, '../../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const MAIN = path.join(ROOT, 'subgraphs/auth/src/main.ts');

function runOnce(env: NodeJS.ProcessEnv) {
  const result = spawnSync(TSX, [MAIN], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stderr: result.stderr.trim() };
}

describe('the auth service as a process', () => {
  it('stops with one line naming a missing variable', () => {
    const { DATABASE_URL: _omit, ...env } = testEnv();
    const result = runOnce(env);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('auth: Invalid configuration: DATABASE_URL is required');
  });

  it('stops with one line naming a malformed variable', () => {
    const result = runOnce(testEnv({ AUTH_PORT: 'http' }));
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^auth: Invalid configuration: AUTH_PORT [^\n]+$/);
  });

  it('refuses to start in production without a Telegram bot token', () => {
    // A fresh secret: production refuses the tests' own, which is written in the repository.
    const result = runOnce(testEnv({ NODE_ENV: 'production', JWT_SECRET: randomBytes(48).toString('base64') }));
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('auth: Invalid configuration: TELEGRAM_BOT_TOKEN is required in production');
  });

  describe('in development without a bot token', () => {
    let child: ChildProcess;
    let url: string;
    const lines: string[] = [];
    const waiters: Array<() => void> = [];

    beforeAll(async () => {
      child = spawn(TSX, [MAIN], { env: { PATH: process.env.PATH, ...testEnv({ LOG_LEVEL: 'info', LOG_FILE: undefined, TELEGRAM_BOT_TOKEN: undefined }) } });
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(line);
        waiters.splice(0).forEach((wake) => wake());
      });
      url = await waitForLine((line) => /subgraph ready/.test(line)).then((line) => JSON.parse(line).url as string);
    });
    afterAll(async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    });

    function waitForLine(match: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line; saw:\n${lines.join('\n')}`)), timeoutMs);
        const check = () => {
          const found = lines.find(match);
          if (found) {
            clearTimeout(timer);
            resolve(found);
          } else waiters.push(check);
        };
        check();
      });
    }

    it('writes the code to its log, and the code logs the person in', async () => {
      const phone = randomPhone();
      const challenge = await graphql(url, REQUEST_OTP, { phone });
      expect(challenge.errors).toBeUndefined();
      const line = await waitForLine((l) => l.includes(`login code for ${phone}`));
      const code = /login code for \S+: (\d{6})/.exec(line)![1]!;

      const verified = await graphql(url, VERIFY_OTP, { phone, code });
      expect(verified.errors).toBeUndefined();
      expect(verified.data!.verifyOtp.user).toMatchObject({ phone, telegramLinked: false });
    });

    it('stops cleanly on SIGTERM', async () => {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    });
  });
});
