import { LRUCache } from 'lru-cache';
import type { IncomingMessage } from 'node:http';
import { authenticate, socketAddress, type Identity } from '../../kernel/src/identity';
import type { JwtService } from '../../kernel/src/jwt';

export interface GatewayContext {
  identity: Identity;
  /** Set on the gateway's own executions (subscription events), which may use internal fields. */
  internal?: boolean;
  /** The signed token subgraphs receive: who the verified caller is, and their address. */
  internalToken(): Promise<string>;
}

/**
 * The gateway takes only access tokens from clients. Subgraphs never see the client's headers:
 * they get a short-lived internal token, signed here, that they verify with the same library.
 */
export class GatewayIdentity {
  // Signing once per caller and address per half-minute keeps RS256/EdDSA off the hot path.
  private readonly internalTokens = new LRUCache<string, Promise<string>>({ max: 10_000, ttl: 30_000 });

  constructor(private readonly jwt: JwtService) {}

  contextFor(req: IncomingMessage): Promise<GatewayContext> {
    return this.contextForHeader(req.headers.authorization, socketAddress(req));
  }

  /** For an Authorization header from anywhere (an HTTP request, a websocket's connection_init). */
  async contextForHeader(authorization: string | undefined, ip: string | undefined): Promise<GatewayContext> {
    const identity = await authenticate(this.jwt, authorization, ['access'], ip?.startsWith('::ffff:') ? ip.slice(7) : ip);
    let token: Promise<string> | undefined;
    return {
      identity,
      internalToken: () => (token ??= this.internalTokenFor(identity)),
    };
  }

  private internalTokenFor(identity: Identity): Promise<string> {
    const ip = identity.kind === 'service' ? undefined : identity.ip;
    const key = identity.kind === 'user' ? `u|${identity.userId}|${identity.role}|${ip}` : `a|${ip}`;
    let token = this.internalTokens.get(key);
    if (!token) {
      token = this.jwt.signInternal(identity.kind === 'user' ? { userId: identity.userId, role: identity.role, ip } : { ip });
      this.internalTokens.set(key, token);
    }
    return token;
  }
}
