// Caddy's on-demand TLS asks before getting a certificate for a host. Only hosts tenement serves
// (existing instances and services, the root domain) are approved, so nobody can make Caddy
// request certificates for arbitrary names pointed at the server.
import type http from 'node:http';
import { bareHost } from './hosts.js';

export class TlsAsk {
  static readonly PATH = '/caddy/ask';

  constructor(private readonly hosts: () => Set<string>) {}

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const domain = url.searchParams.get('domain');
    const ok = domain !== null && this.hosts().has(bareHost(domain));
    res.writeHead(ok ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(ok ? 'ok\n' : `not a tenement host: ${domain ?? '(no ?domain=)'}\n`);
  }
}
