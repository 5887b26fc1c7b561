// The address a request's failed authentications are charged to.
//
// The API is reached two ways: directly on the controller's port (bound to loopback) and through
// Caddy, which proxies the root domain to it. X-Forwarded-For is whatever the sender chose unless
// the sender is a proxy the operator trusts: any process on this host (tenants included) is a
// loopback peer too, so "loopback" alone is no proof that Caddy sent the header (issue 11 #2: a
// spoofed header both blocked other addresses and escaped the limit). The header is therefore
// used only when the peer is in `[settings] trusted_proxies`; by default every failure counts
// against the real peer. That is safe because a valid token is always accepted (the limit only
// slows guessing), so sharing Caddy's bucket can never lock a legitimate client out.
import { isIP } from 'node:net';

export function isLoopback(address: string): boolean {
  const a = normalize(address);
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** `::ffff:1.2.3.4` -> `1.2.3.4`, so one client has one spelling. */
export function normalize(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * `peer` is the socket's remote address; `forwardedFor` the X-Forwarded-For header, if any;
 * `trustedProxies` the peers whose header is believed. The right-most entry is the one the
 * nearest (trusted) proxy appended; entries left of it were supplied by the client.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | undefined, trustedProxies: readonly string[] = []): string {
  if (!peer) return 'unknown';
  const real = normalize(peer);
  if (forwardedFor && trustedProxies.some((p) => normalize(p) === real)) {
    const last = forwardedFor
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .pop();
    if (last && isIP(last)) return normalize(last);
  }
  return real;
}
