import { createHmac, randomInt } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError, badUserInput, rateLimited } from '../../../kernel/src/errors';
import { ErrorCode } from './errors';
import { addressBucket } from '../../../kernel/src/client-address';
import { Metrics } from '../../../kernel/src/metrics';

export interface OtpSettings {
  secret: string;
  ttlSeconds: number;
  resendCooldownSeconds: number;
  maxAttempts: number;
  phoneLimitPerHour: number;
  ipLimitPerHour: number;
  keyPrefix: string;
}

export interface OtpChallenge {
  phone: string;
  expiresAt: Date;
  resendAfter: Date;
}

export interface IssuedOtp {
  challenge: OtpChallenge;
  /** The code to deliver; absent for a phone nothing can be delivered to. */
  code?: string;
}

/** Stored for a phone without a chat: not a hex HMAC, so no candidate ever matches it. */
const UNDELIVERABLE = 'undeliverable';

/**
 * Checks a code atomically: a wrong code burns a try, the right one deletes the entry so it
 * works once, and an entry that has used up its tries stays dead until it expires.
 * KEYS[1] = the code's hash key; ARGV[1] = the candidate's hash; ARGV[2] = max attempts.
 */
const VERIFY_SCRIPT = `
local stored = redis.call('HGET', KEYS[1], 'hash')
if not stored then return {'missing', 0} end
local max = tonumber(ARGV[2])
local tries = tonumber(redis.call('HGET', KEYS[1], 'tries') or '0')
if tries >= max then return {'dead', 0} end
if stored == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {'ok', 0}
end
tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
return {'wrong', max - tries}
`;

/** One-time codes: issued from a CSPRNG, stored only as an HMAC in Redis, rate limited per phone and per IP. */
export class OtpService {
  private readonly perPhone: RateLimiterRedis;
  private readonly perIp: RateLimiterRedis;
  private readonly requests;
  private readonly verifications;

  constructor(
    private readonly redis: Redis,
    private readonly settings: OtpSettings,
    metrics: Metrics = new Metrics(),
  ) {
    this.requests = metrics.counter(
      'shop_otp_requests_total',
      'Code requests: issued, or refused by cooldown, phone_limit (per phone and hour) or address_limit (per client address and hour)',
      ['outcome'],
    );
    this.verifications = metrics.counter('shop_otp_verifications_total', 'Codes checked: ok, wrong, expired (none valid), attempts_exceeded, malformed', ['outcome']);
    this.perPhone = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${settings.keyPrefix}otp:limit:phone`,
      points: settings.phoneLimitPerHour,
      duration: 3600,
    });
    this.perIp = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${settings.keyPrefix}otp:limit:ip`,
      points: settings.ipLimitPerHour,
      duration: 3600,
    });
  }

  get ttlSeconds(): number {
    return this.settings.ttlSeconds;
  }

  /** Counts a code request from this client address (an IPv6 client by its /64); refuses past the hourly limit. */
  async checkClientLimit(ip: string | undefined): Promise<void> {
    await this.consume(this.perIp, addressBucket(ip), 'Too many code requests from your network.', 'address_limit');
  }

  /**
   * Creates a code for `phone` unless one was requested within the cooldown. The cooldown, the
   * hourly limit and the stored entry are the same whether or not the code can be delivered, so
   * neither a limit nor a wrong guess at verifyOtp tells a stranger whether the phone is linked.
   */
  async issue(phone: string, deliverable: boolean): Promise<IssuedOtp> {
    const { ttlSeconds, resendCooldownSeconds } = this.settings;
    const cooldownKey = this.key('cooldown', phone);
    const acquired = await this.redis.set(cooldownKey, '1', 'EX', resendCooldownSeconds, 'NX');
    if (acquired !== 'OK') {
      const retryAfter = Math.max(1, await this.redis.ttl(cooldownKey));
      this.requests.inc({ outcome: 'cooldown' });
      throw rateLimited(`A code was requested for this phone moments ago; you can ask again in ${retryAfter} s.`, retryAfter);
    }
    try {
      await this.consume(this.perPhone, phone, 'Too many codes were requested for this phone.', 'phone_limit');
    } catch (error) {
      await this.redis.del(cooldownKey);
      throw error;
    }

    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    const hash = this.hash(phone, code);
    const codeKey = this.key('code', phone);
    await this.redis.multi().del(codeKey).hset(codeKey, { hash: deliverable ? hash : UNDELIVERABLE, tries: 0 }).expire(codeKey, ttlSeconds).exec();
    const now = Date.now();
    const challenge = { phone, expiresAt: new Date(now + ttlSeconds * 1000), resendAfter: new Date(now + resendCooldownSeconds * 1000) };
    this.requests.inc({ outcome: 'issued' });
    return deliverable ? { challenge, code } : { challenge };
  }

  /** Accepts the code once; throws OTP_INVALID / OTP_EXPIRED / OTP_ATTEMPTS_EXCEEDED otherwise. */
  async verify(phone: string, code: string): Promise<void> {
    if (!/^\d{6}$/.test(code)) {
      this.verifications.inc({ outcome: 'malformed' });
      throw badUserInput('code', 'The code is the 6 digits sent to you in Telegram.');
    }
    const [outcome, remaining] = (await this.redis.eval(
      VERIFY_SCRIPT,
      1,
      this.key('code', phone),
      this.hash(phone, code),
      this.settings.maxAttempts,
    )) as [string, number];
    const result = outcome === 'missing' ? 'expired' : outcome === 'dead' || (outcome === 'wrong' && remaining <= 0) ? 'attempts_exceeded' : outcome;
    this.verifications.inc({ outcome: result });
    switch (outcome) {
      case 'ok':
        return;
      case 'missing':
        throw new AppError(ErrorCode.OTP_EXPIRED, 'There is no valid code for this phone (it expired or was used); request a new one.');
      case 'dead':
        throw new AppError(ErrorCode.OTP_ATTEMPTS_EXCEEDED, 'Too many wrong codes; request a new one.');
      default:
        throw new AppError(
          remaining > 0 ? ErrorCode.OTP_INVALID : ErrorCode.OTP_ATTEMPTS_EXCEEDED,
          remaining > 0 ? `Wrong code; ${remaining} ${remaining === 1 ? 'try' : 'tries'} left.` : 'Wrong code, and no tries are left; request a new one.',
          { remainingAttempts: remaining },
        );
    }
  }

  private hash(phone: string, code: string): string {
    return createHmac('sha256', this.settings.secret).update(`${phone}:${code}`).digest('hex');
  }

  private key(kind: string, phone: string): string {
    return `${this.settings.keyPrefix}otp:${kind}:${phone}`;
  }

  private async consume(limiter: RateLimiterRedis, key: string, message: string, limit: 'phone_limit' | 'address_limit'): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      this.requests.inc({ outcome: limit });
      const retryAfter = Math.ceil(rejection.msBeforeNext / 1000);
      throw rateLimited(`${message} Try again in ${Math.ceil(retryAfter / 60)} min.`, retryAfter);
    }
  }
}
