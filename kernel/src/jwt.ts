import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { SignJWT, jwtVerify, importPKCS8, importSPKI, errors as joseErrors, type CryptoKey, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { env } from './config';

/**
 * The one JWT library of the platform (jose). Every token names its type in `typ`, and a
 * verifier always says which types it accepts, so a refresh token is never an access token.
 * The algorithm is pinned from configuration: `alg: none` and HS/RS confusion are refused.
 */
export type TokenType = 'access' | 'refresh' | 'service' | 'internal';
export type Role = 'USER' | 'ADMIN';

export const jwtConfigShape = {
  ALGORITHM: z.enum(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'EdDSA']).default('HS256'),
  JWT_SECRET: z.string().min(32, { message: 'must be at least 32 characters' }).optional(),
  /** PEM keys for RS*, ES256 and EdDSA; `\n` escapes are accepted so they fit on one .env line. */
  JWT_PRIVATE_KEY: z.string().optional(),
  JWT_PUBLIC_KEY: z.string().optional(),
  JWT_ISSUER: z.string().default('shop-auth'),
  ACCESS_TOKEN_EXPIRE_MINUTES: env.positiveInt(30),
  REFRESH_TOKEN_EXPIRE_MINUTES: env.positiveInt(43200),
  /** Lifetime of the tokens the gateway signs for subgraphs; each is reused for at most half of it. */
  INTERNAL_TOKEN_TTL_SECONDS: env.positiveInt(60),
};
export type JwtConfig = z.infer<z.ZodObject<typeof jwtConfigShape>>;

export class TokenError extends Error {
  override name = 'TokenError';
  constructor(
    message: string,
    readonly reason: 'expired' | 'invalid' | 'wrong-type',
  ) {
    super(message);
  }
}

interface BaseClaims {
  sub: string;
  typ: TokenType;
  jti: string;
  exp: number;
  iat: number;
}
export interface AccessClaims extends BaseClaims {
  typ: 'access';
  role: Role;
}
export interface RefreshClaims extends BaseClaims {
  typ: 'refresh';
  fam: string;
}
/** A service calling another service (sub = the calling service's name). */
export interface ServiceClaims extends BaseClaims {
  typ: 'service';
}
/** What the gateway forwards to subgraphs: the verified caller and the client's address. */
export interface InternalClaims extends BaseClaims {
  typ: 'internal';
  /** Absent for anonymous callers. */
  role?: Role;
  anon?: boolean;
  ip?: string;
}
export type Claims = AccessClaims | RefreshClaims | ServiceClaims | InternalClaims;
type ClaimsOf<T extends TokenType> = Extract<Claims, { typ: T }>;

const AUDIENCE = 'shop';
const SERVICE_TTL_SECONDS = 300;

const pem = (value: string) => value.replace(/\\n/g, '\n');

export class JwtService {
  // A subgraph sees the same internal token on every call for up to half a minute: a token that
  // passed verification is remembered by its exact string until it expires, so jose runs once per token.
  private readonly verified = new LRUCache<string, JWTPayload & { exp: number }>({ max: 10_000 });
  private readonly serviceTokens = new Map<string, { token: Promise<string>; renewAt: number }>();

  private constructor(
    private readonly alg: JwtConfig['ALGORITHM'],
    private readonly signingKey: CryptoKey | Uint8Array,
    private readonly verifyingKey: CryptoKey | Uint8Array,
    private readonly issuer: string,
    readonly accessTtlSeconds: number,
    readonly refreshTtlSeconds: number,
    readonly internalTtlSeconds: number,
  ) {}

  static async create(config: Omit<JwtConfig, 'INTERNAL_TOKEN_TTL_SECONDS'> & Partial<Pick<JwtConfig, 'INTERNAL_TOKEN_TTL_SECONDS'>>): Promise<JwtService> {
    const { ALGORITHM: alg } = config;
    let signingKey: CryptoKey | Uint8Array;
    let verifyingKey: CryptoKey | Uint8Array;
    if (alg.startsWith('HS')) {
      if (!config.JWT_SECRET) throw new Error(`Invalid configuration: JWT_SECRET is required for ${alg}`);
      signingKey = verifyingKey = new TextEncoder().encode(config.JWT_SECRET);
    } else {
      if (!config.JWT_PRIVATE_KEY) throw new Error(`Invalid configuration: JWT_PRIVATE_KEY is required for ${alg}`);
      if (!config.JWT_PUBLIC_KEY) throw new Error(`Invalid configuration: JWT_PUBLIC_KEY is required for ${alg}`);
      signingKey = await importPKCS8(pem(config.JWT_PRIVATE_KEY), alg);
      verifyingKey = await importSPKI(pem(config.JWT_PUBLIC_KEY), alg);
    }
    return new JwtService(
      alg,
      signingKey,
      verifyingKey,
      config.JWT_ISSUER,
      config.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
      config.REFRESH_TOKEN_EXPIRE_MINUTES * 60,
      config.INTERNAL_TOKEN_TTL_SECONDS ?? 60,
    );
  }

  signAccess(user: { id: string; role: Role }): Promise<string> {
    return this.sign({ typ: 'access', role: user.role }, user.id, this.accessTtlSeconds);
  }

  signRefresh(input: { userId: string; familyId: string; jti: string }): Promise<string> {
    return this.sign({ typ: 'refresh', fam: input.familyId }, input.userId, this.refreshTtlSeconds, input.jti);
  }

  /**
   * A service token for calls to other subgraphs. One token serves every call for the first half of its
   * lifetime (then a fresh one is signed): signing per call cost each call a signature here and a
   * verification there, where the callee now verifies it once and remembers it.
   */
  signService(serviceName: string): Promise<string> {
    const now = Date.now();
    const held = this.serviceTokens.get(serviceName);
    if (held && held.renewAt > now) return held.token;
    const token = this.sign({ typ: 'service' }, serviceName, SERVICE_TTL_SECONDS);
    this.serviceTokens.set(serviceName, { token, renewAt: now + (SERVICE_TTL_SECONDS * 1000) / 2 });
    token.catch(() => this.serviceTokens.delete(serviceName));
    return token;
  }

  signInternal(input: { userId?: string; role?: Role; ip?: string }): Promise<string> {
    const claims = input.userId ? { typ: 'internal', role: input.role, ip: input.ip } : { typ: 'internal', anon: true, ip: input.ip };
    return this.sign(claims, input.userId ?? 'anonymous', this.internalTtlSeconds);
  }

  /** Verifies signature, algorithm, issuer, audience, expiry and that the token is one of `types`. */
  async verify<T extends TokenType>(token: string, types: readonly T[]): Promise<ClaimsOf<T>> {
    const payload = this.stillValid(token) ?? (await this.verifySignature(token));
    if (!types.includes(payload.typ as T)) {
      throw new TokenError(`A ${String(payload.typ)} token cannot be used here.`, 'wrong-type');
    }
    return payload as unknown as ClaimsOf<T>;
  }

  /** The claims of a token verified before, while it has not expired (jose's rule: expired from `exp` on). */
  private stillValid(token: string): JWTPayload | undefined {
    const payload = this.verified.get(token);
    if (!payload) return undefined;
    if (payload.exp > Math.floor(Date.now() / 1000)) return payload;
    this.verified.delete(token);
    return undefined;
  }

  private async verifySignature(token: string): Promise<JWTPayload> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.verifyingKey, {
        algorithms: [this.alg],
        issuer: this.issuer,
        audience: AUDIENCE,
        requiredClaims: ['sub', 'jti', 'exp', 'iat'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new TokenError('The token has expired.', 'expired');
      throw new TokenError('The token is invalid.', 'invalid');
    }
    // requiredClaims made sure exp is there; frozen, because every later caller gets this same object.
    this.verified.set(token, Object.freeze(payload) as JWTPayload & { exp: number });
    return payload;
  }

  private sign(claims: Record<string, unknown>, subject: string, ttlSeconds: number, jti: string = randomUUID()) {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: this.alg, typ: 'JWT' })
      .setSubject(subject)
      .setIssuer(this.issuer)
      .setAudience(AUDIENCE)
      .setJti(jti)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.signingKey);
  }
}
