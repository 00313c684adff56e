import { LRUCache } from 'lru-cache';
import type { IncomingMessage } from 'node:http';
import { authenticate, type Identity } from '../../kernel/src/identity';
import type { JwtService } from '../../kernel/src/jwt';
import { clientAddress, plainAddress, type TrustedProxies } from '../../kernel/src/client-address';

export interface GatewayContext {
  identity: Identity;
  /** Set on the gateway's own executions (subscription events), which may use internal fields. */
  internal?: boolean;
  /** The signed token subgraphs receive: who the verified caller is, and their address. Fresh enough for each call. */
  internalToken(): Promise<string>;
}

/**
 * The gateway takes only access tokens from clients. Subgraphs never see the client's headers:
 * they get a short-lived internal token, signed here, that they verify with the same library.
 */
export class GatewayIdentity {
  // Signing once per caller and address per half token lifetime keeps RS256/EdDSA off the hot path,
  // and every call still carries a token with half its lifetime to go.
  private readonly internalTokens: LRUCache<string, Promise<string>>;

  constructor(
    private readonly jwt: JwtService,
    private readonly trust: TrustedProxies,
  ) {
    this.internalTokens = new LRUCache({ max: 10_000, ttl: (jwt.internalTtlSeconds * 1000) / 2 });
  }

  /** The client's address: X-Forwarded-For only when the peer is a trusted proxy. */
  addressOf(req: IncomingMessage): string | undefined {
    return clientAddress(req, this.trust);
  }

  contextFor(req: IncomingMessage): Promise<GatewayContext> {
    return this.contextForHeader(req.headers.authorization, this.addressOf(req));
  }

  /** For an Authorization header from anywhere (an HTTP request, a websocket's connection_init). */
  async contextForHeader(authorization: string | undefined, ip: string | undefined): Promise<GatewayContext> {
    const identity = await authenticate(this.jwt, authorization, ['access'], plainAddress(ip));
    // Not memoised per context: a websocket's context lives for hours, its internal tokens must not.
    return { identity, internalToken: () => this.internalTokenFor(identity) };
  }

  private internalTokenFor(identity: Identity): Promise<string> {
    const ip = identity.kind === 'service' ? undefined : identity.ip;
    const key = identity.kind === 'user' ? `u|${identity.userId}|${identity.role}|${ip}` : `a|${ip}`;
    let token = this.internalTokens.get(key);
    if (!token) {
      token = this.jwt.signInternal(identity.kind === 'user' ? { userId: identity.userId, role: identity.role, ip } : { ip });
      this.internalTokens.set(key, token);
      // A failed signing must not be served from the cache for the next half-minute.
      token.catch(() => this.internalTokens.delete(key));
    }
    return token;
  }
}
