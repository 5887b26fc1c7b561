// The address a request is attributed to, for rate limiting and logs.
//
// The API is reached two ways: directly on the controller's port (bound to loopback) and through
// Caddy, which proxies the root domain to it. Through Caddy every request arrives from a loopback
// address, so the socket alone would put every remote client in one bucket and one bad client
// would lock out everyone (the original's defect, by another road). Caddy sets X-Forwarded-For to
// the client it saw, so that header is used, but only when the peer is loopback: from any other
// peer the header is whatever the client chose to send and is ignored.
//
// Caveat: any process on this host (tenants included) is also a loopback peer and can put what it
// likes in the header. That only lets it move its own failures to another bucket or charge them
// to another address; it never grants access, which rests on 256-bit tokens, not on this limit.
import { isIP } from 'node:net';

export function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function normalize(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * `peer` is the socket's remote address; `forwardedFor` the X-Forwarded-For header, if any.
 * The right-most entry is the one the nearest proxy (Caddy) appended; entries left of it were
 * supplied by the client and are not trusted.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | undefined): string {
  if (!peer) return 'unknown';
  if (forwardedFor && isLoopback(peer)) {
    const last = forwardedFor.split(',').map((s) => s.trim()).filter(Boolean).pop();
    if (last && isIP(last)) return normalize(last);
  }
  return normalize(peer);
}
