// Caddy's on-demand TLS asks before getting a certificate for a host. Only hosts tenement serves
// (existing instances and services, the root domain) are approved, so nobody can make Caddy
// request certificates for arbitrary names pointed at the server.
//
// The answer says whether a tenant exists, so it is for Caddy alone (issue 11 #11): only the exact
// path, and never a request that came through a proxy. Caddy's `ask` is a direct GET from the
// Caddy process; everything Caddy (or any reverse proxy) forwards from the public side carries
// X-Forwarded-For (Caddy sets it on every proxied request, whatever the client sent), so a
// request with a forwarding header was not asked by Caddy's TLS machinery.
import type http from 'node:http';
import { bareHost } from './hosts.js';

const FORWARDING_HEADERS = ['x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-real-ip'];

export class TlsAsk {
  static readonly PATH = '/caddy/ask';

  constructor(private readonly hosts: () => Set<string>) {}

  /** Exactly GET-able at PATH (a query string allowed); `/caddy/ask/x` or `/caddy/asking` are not it. */
  static matches(req: http.IncomingMessage): boolean {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    return (q === -1 ? url : url.slice(0, q)) === TlsAsk.PATH;
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const text = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (FORWARDING_HEADERS.some((h) => req.headers[h] !== undefined)) {
      return text(403, `${TlsAsk.PATH} answers Caddy's on-demand TLS only (a direct request to the controller's port), not requests forwarded from the public side\n`);
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const domain = url.searchParams.get('domain');
    const ok = domain !== null && this.hosts().has(bareHost(domain));
    text(ok ? 200 : 404, ok ? 'ok\n' : `not a tenement host: ${domain ?? '(no ?domain=)'}\n`);
  }
}
