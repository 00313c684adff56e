import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, maskSecrets } from '../src/logger';
import { runForRequest } from '../src/request-context';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMiLCJ0eXAiOiJhY2Nlc3MifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
const BOT_TOKEN = '7345123456:AAHk3v9T0kEnOfAB0tTh4tIsL0ng3n0ugh';

function linesOf(nodeEnv: string, write: (logger: ReturnType<typeof createLogger>) => void): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'logger-test-')), 'service.log');
  write(createLogger('test', 'info', file, nodeEnv));
  const text = fs.readFileSync(file, 'utf8');
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return text;
}

describe('the logger', () => {
  it('masks tokens, one-time codes and phone numbers in production, wherever they are on the line', () => {
    const text = linesOf('production', (logger) => {
      logger.warn(`login code for +447911123456: code 123456`);
      logger.error({ err: new Error(`Telegram refused https://api.telegram.org/bot${BOT_TOKEN}/sendMessage for +15551234567`) }, 'send failed');
      logger.info({ caller: { authorization: `Bearer ${JWT}` }, note: `refresh with ${JWT}`, nested: { detail: 'otp=654321' } }, 'a request');
    });
    for (const secret of ['+447911123456', '123456', JWT, BOT_TOKEN, '+15551234567', '654321']) expect(text).not.toContain(secret);
    // What is left still tells a person what happened.
    expect(text).toContain('+44********56');
    expect(text).toContain('/bot[bot-token]/sendMessage');
    expect(text).toContain('refresh with [token]');
    expect(text).toContain('Bearer [token]');
    expect(text).toContain('otp=[code]');
  });

  it('leaves development lines as they are (the dev login code is read from the log)', () => {
    const text = linesOf('development', (logger) => logger.warn('[dev] login code for +447911123456: 123456'));
    expect(text).toContain('[dev] login code for +447911123456: 123456');
  });

  it('does not mistake what only looks like a secret: times, prices, error codes, order numbers', () => {
    const line = '{"time":1764412345678,"amount":12999,"code":"P2002","number":"SO-000042","at":"2026-11-29T13:39:34.123+00:00"}';
    expect(maskSecrets(line)).toBe(line);
  });

  it('writes the request id of the work in progress on each line', () => {
    const text = linesOf('development', (logger) => {
      runForRequest('req-1', () => logger.info('inside'));
      logger.info('outside');
    });
    const [inside, outside] = text.trim().split('\n').map((line) => JSON.parse(line) as { requestId?: string });
    expect(inside!.requestId).toBe('req-1');
    expect(outside!.requestId).toBeUndefined();
  });
});
