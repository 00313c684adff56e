import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { JwtService, TokenError, type Role, type TokenType } from './jwt';
import { AppError, ErrorCode, forbidden, unauthenticated } from './errors';
import { plainAddress } from './client-address';

/** Who is calling, as every service sees it after verifying a token. */
export type Identity =
  | { kind: 'anonymous'; ip?: string }
  | { kind: 'user'; userId: string; role: Role; ip?: string; /** When the access token it came from expires (epoch seconds). */ expiresAt?: number }
  | { kind: 'service'; service: string };

export const ANONYMOUS: Identity = { kind: 'anonymous' };

/** The refusal for a bad token: UNAUTHENTICATED with HTTP 401, never a silent downgrade to anonymous. */
export function tokenRefused(error: unknown): AppError {
  const message =
    error instanceof TokenError
      ? `${error.message} Log in again or refresh your access token.`
      : 'The Authorization header must be "Bearer <access token>".';
  return new AppError(ErrorCode.UNAUTHENTICATED, message, { http: { status: 401 } });
}

/** The bearer token of an Authorization header; undefined when there is none; throws when malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw tokenRefused(undefined);
  return match[1];
}

/**
 * Turns an Authorization header into an Identity. `accept` names the token types this
 * endpoint takes: the gateway takes only access tokens; subgraphs take what the gateway
 * and other services send (internal, service) and plain access tokens.
 */
export async function authenticate(
  jwt: JwtService,
  header: string | undefined,
  accept: readonly TokenType[],
  socketIp?: string,
): Promise<Identity> {
  const token = bearerToken(header);
  if (!token) return { kind: 'anonymous', ip: socketIp };
  try {
    const claims = await jwt.verify(token, accept);
    switch (claims.typ) {
      case 'access':
        return { kind: 'user', userId: claims.sub, role: claims.role, ip: socketIp, expiresAt: claims.exp };
      case 'internal': {
        const ip = claims.ip && isIP(claims.ip) ? claims.ip : socketIp;
        return claims.anon || !claims.role
          ? { kind: 'anonymous', ip }
          : { kind: 'user', userId: claims.sub, role: claims.role, ip };
      }
      case 'service':
        return { kind: 'service', service: claims.sub };
      default:
        throw new TokenError('This token cannot be used here.', 'wrong-type');
    }
  } catch (error) {
    throw tokenRefused(error);
  }
}

/** The peer of a raw request, without IPv4-mapped IPv6 noise (subgraphs: the gateway's internal token names the client). */
export function socketAddress(req: IncomingMessage): string | undefined {
  return plainAddress(req.socket.remoteAddress);
}

export function requireUser(identity: Identity): Extract<Identity, { kind: 'user' }> {
  if (identity.kind !== 'user') throw unauthenticated();
  return identity;
}

export function requireAdmin(identity: Identity): Extract<Identity, { kind: 'user' }> {
  const user = requireUser(identity);
  if (user.role !== 'ADMIN') throw forbidden('Only an admin can do this.');
  return user;
}

export function requireService(identity: Identity): Extract<Identity, { kind: 'service' }> {
  if (identity.kind === 'service') return identity;
  if (identity.kind === 'anonymous') throw unauthenticated('Only a platform service can do this.');
  throw forbidden('Only a platform service can do this.');
}

/** How an audit trail names who did something. */
export function actorOf(identity: Identity): string {
  switch (identity.kind) {
    case 'user':
      return `user:${identity.userId}`;
    case 'service':
      return `service:${identity.service}`;
    default:
      return 'anonymous';
  }
}
