import http from 'node:http';
import type { FakeTelegram } from '../../../test/support/fake-telegram';
import { useStack, type Stack } from '../../../test/support/stack';
import { bindTelegram, randomPhone, REQUEST_OTP } from '../../../test/support/login';

const LOGIN_CODE = /login code: \d{6}/;

/** requestOtp through the gateway from one local address: with no trusted proxy, the socket's peer is the client. */
function requestOtpFrom(stack: Stack, localAddress: string, phone: string): Promise<string> {
  const body = JSON.stringify({ query: REQUEST_OTP, variables: { phone } });
  return new Promise((resolve, reject) => {
    const request = http.request(
      stack.gatewayUrl,
      { method: 'POST', localAddress, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        let raw = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (raw += chunk));
        response.on('end', () => {
          try {
            const parsed = JSON.parse(raw) as { errors?: Array<{ extensions?: { code?: string } }> };
            resolve(parsed.errors?.[0]?.extensions?.code ?? 'OK');
          } catch {
            resolve(`HTTP ${response.statusCode}: ${raw}`);
          }
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

describe('the per-address limit on login codes, seen from two client addresses', () => {
  const ctx = useStack({ OTP_IP_LIMIT_PER_HOUR: '2' });
  let stack: Stack;
  let telegram: FakeTelegram;
  beforeAll(() => ({ stack, telegram } = ctx));

  it('refuses the third request from one address while another address still gets its codes', async () => {
    // Given: a person on the second address whose chat is linked, so a code to them shows in Telegram.
    const linked = randomPhone();
    const person = await bindTelegram(telegram, linked);

    // When: one address asks three times, each time for another phone.
    const first = [];
    for (let i = 0; i < 3; i++) first.push(await requestOtpFrom(stack, '127.0.0.2', randomPhone()));

    // Then: its third is refused, and the other address has its own two.
    expect(first).toEqual(['OK', 'OK', 'RATE_LIMITED']);
    expect(await requestOtpFrom(stack, '127.0.0.1', randomPhone())).toBe('OK');
    expect(await requestOtpFrom(stack, '127.0.0.1', linked)).toBe('OK');
    await telegram.waitForMessage({ chatId: person.chatId, textMatches: LOGIN_CODE });
    expect(await requestOtpFrom(stack, '127.0.0.1', randomPhone())).toBe('RATE_LIMITED');
    expect(await requestOtpFrom(stack, '127.0.0.2', randomPhone())).toBe('RATE_LIMITED');
  });
});
