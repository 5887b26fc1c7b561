// Requests for tenant hosts that arrive at the controller's own port. tenement 0.2 proxied every
// request itself, and its `ten caddy` wrote `*.domain { reverse_proxy localhost:8080 }`; a front
// proxy set up that way keeps sending alice.notes.example.com to `ten serve --port`. Those
// requests are served (woken and forwarded to the instance, like a held request) instead of
// answering 404, so an upgrade does not break such a deployment. It is the slow path: every
// request then passes through Node; a warning, repeated while it lasts, names the better setup.
import type http from 'node:http';
import type { RoutingConfig } from '../config/types.js';
import type { Logger } from '../util/logger.js';
import { tenantOfHost, type HostTenant } from './hosts.js';

/** How often the warning repeats while requests keep coming this way. */
const WARN_EVERY_MS = 10 * 60_000;

/** The tenant a request is for; id undefined: the service route (weighted across its instances). */
export type FrontProxyTarget = HostTenant;

export class FrontProxyPath {
  private lastWarn = 0;
  private sinceWarn = 0;

  constructor(
    private readonly opts: {
      domain: string;
      routing: () => RoutingConfig;
      services: () => readonly string[];
      /** Where Caddy serves tenants (for the warning), e.g. "127.0.0.1:8000"; undefined with an external Caddy. */
      caddyListen: string | undefined;
      log: Logger;
      now?: () => number;
    },
  ) {}

  /** The tenant a request is for, if its Host names one of a configured service under the domain. */
  target(req: http.IncomingMessage): FrontProxyTarget | undefined {
    const host = req.headers.host;
    if (!host) return undefined;
    const t = tenantOfHost(host, this.opts.domain, this.opts.routing());
    if (!t || !this.opts.services().includes(t.service)) return undefined;
    this.warn(host);
    return t;
  }

  private warn(host: string): void {
    const now = (this.opts.now ?? Date.now)();
    this.sinceWarn++;
    if (this.lastWarn !== 0 && now - this.lastWarn < WARN_EVERY_MS) return;
    const better = this.opts.caddyListen
      ? `point the front proxy at Caddy (${this.opts.caddyListen}, \`ten serve --http-port\`), or drop it and let Caddy face clients`
      : 'let your Caddy route tenants itself (`ten caddy` prints its Caddyfile; run `ten serve --caddy-admin ...`)';
    this.opts.log.warn(
      `requests for tenant hosts reach the controller port (e.g. a front proxy sending *.${this.opts.domain} to \`ten serve --port\`, as tenement 0.2 was set up); they are served, but each one goes through the controller: ${better}. See docs/upgrading.md`,
      { host, requests: this.sinceWarn },
    );
    this.lastWarn = now;
    this.sinceWarn = 0;
  }
}
