import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import ipaddr from 'ipaddr.js';

/**
 * Which peers may tell us the client's address in X-Forwarded-For: proxy-addr's syntax
 * (`loopback`, `uniquelocal`, `10.0.0.0/8`, `2001:db8::/32`, single addresses), comma-separated.
 * Empty: no proxy is trusted, the client is the socket's peer.
 */
export type TrustedProxies = (address: string, hop: number) => boolean;

export function trustedProxies(list: readonly string[]): TrustedProxies {
  return proxyaddr.compile([...list]);
}

/** Without IPv4-mapped IPv6 noise (`::ffff:1.2.3.4` is `1.2.3.4`). */
export function plainAddress(address: string | undefined): string | undefined {
  if (!address) return undefined;
  return ipaddr.isValid(address) ? ipaddr.process(address).toString() : address;
}

/**
 * The client's address: the socket's peer, or, when that peer is a trusted proxy, the first address
 * in X-Forwarded-For (from the right) that is not a trusted proxy. A forwarded header from anyone
 * else is ignored, so a client cannot pick its own rate-limit bucket.
 */
export function clientAddress(req: IncomingMessage, trust: TrustedProxies): string | undefined {
  if (!req.socket.remoteAddress) return undefined;
  try {
    return plainAddress(proxyaddr(req, trust));
  } catch {
    return plainAddress(req.socket.remoteAddress);
  }
}

/**
 * The key a per-address limit counts under: an IPv4 address itself; for IPv6 its /64, which is what
 * one subscriber is usually given (counting whole addresses would give an attacker 2^64 buckets).
 */
export function addressBucket(address: string | undefined): string {
  if (!address || !ipaddr.isValid(address)) return 'unknown';
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${parts.join(':')}::/64`;
}
