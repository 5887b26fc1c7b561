// The whole config of a Caddy that tenement runs itself ("managed" mode).
import type { CaddyJson, CaddyRoute } from './routes.js';

export const ACCESS_LOGGER = 'tenement_access';
export const SERVER_NAME = 'tenement';

export interface ManagedConfigOptions {
  /** e.g. unix//var/lib/tenement/_run/caddy-admin.sock */
  adminListen: string;
  /** Addresses of the public HTTP listener, e.g. ["127.0.0.1:8000"] or [":80"]. */
  httpListen: string[];
  /** JSON access log, read back for request metrics; none when undefined (settings.request_metrics). */
  accessLogFile: string | undefined;
  /** How long a reload waits for in-flight requests (Caddy's default is forever). */
  gracePeriodSec: number;
  route: CaddyRoute;
  /** HTTPS: `httpListen` then only redirects to it (and answers ACME HTTP challenges). */
  tls?: ManagedTls | undefined;
}

export interface ManagedTls {
  /** Addresses of the HTTPS listener, e.g. [":443"]. */
  httpsListen: string[];
  /** Port in redirects (omitted from the URL when 443). */
  httpsPort: number;
  /** The controller's on-demand TLS approval endpoint, e.g. http://127.0.0.1:8080/caddy/ask. */
  ask: string;
  /** 'internal': Caddy's own CA (local names); 'acme': Let's Encrypt. */
  issuer: 'internal' | 'acme';
  email?: string | undefined;
  staging?: boolean | undefined;
  /** caddy-dns module name for the ACME DNS challenge. */
  dnsProvider?: string | undefined;
}

export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

function issuer(t: ManagedTls): CaddyJson {
  if (t.issuer === 'internal') return { module: 'internal' };
  return {
    module: 'acme',
    ...(t.email ? { email: t.email } : {}),
    ...(t.staging ? { ca: LETS_ENCRYPT_STAGING } : {}),
    ...(t.dnsProvider ? { challenges: { dns: { provider: { name: t.dnsProvider } } } } : {}),
  };
}

/** The servers and TLS apps of an HTTPS managed Caddy (merged into the plain config below). */
function tlsParts(o: ManagedConfigOptions, t: ManagedTls): { servers: CaddyJson; apps: CaddyJson } {
  const port = t.httpsPort === 443 ? '' : `:${t.httpsPort}`;
  return {
    servers: {
      [SERVER_NAME]: {
        listen: t.httpsListen,
        // Certificates come from the on-demand policy below; Caddy's own redirect server is
        // replaced by ours (on the configured HTTP port, not always :80).
        automatic_https: { disable_redirects: true },
        tls_connection_policies: [{}],
        ...(o.accessLogFile !== undefined ? { logs: { default_logger_name: ACCESS_LOGGER } } : {}),
        routes: [o.route, { handle: [{ handler: 'static_response', status_code: 404, body: 'no tenement route for this host\n' }] }],
      },
      [`${SERVER_NAME}_redirect`]: {
        listen: o.httpListen,
        automatic_https: { disable: true },
        routes: [
          {
            handle: [
              {
                handler: 'static_response',
                status_code: 308,
                headers: { Location: [`https://{http.request.host}${port}{http.request.uri}`] },
              },
            ],
          },
        ],
      },
    },
    apps: {
      tls: {
        automation: {
          on_demand: { ask: t.ask },
          policies: [{ issuers: [issuer(t)], on_demand: true }],
        },
      },
      // Caddy's local CA must never be added to this machine's trust store.
      pki: { certificate_authorities: { local: { install_trust: false } } },
    },
  };
}

export function buildManagedConfig(o: ManagedConfigOptions): CaddyJson {
  const config = buildPlainConfig(o);
  if (!o.tls) return config;
  const parts = tlsParts(o, o.tls);
  const apps = config.apps as { http: { servers: CaddyJson } };
  apps.http.servers = parts.servers;
  Object.assign(config.apps as CaddyJson, parts.apps);
  return config;
}

function buildPlainConfig(o: ManagedConfigOptions): CaddyJson {
  const logged = o.accessLogFile !== undefined;
  return {
    admin: {
      listen: o.adminListen,
      // No `origins`: Caddy 2.6 checks the Host header even on unix sockets and by default allows
      // only an empty one, which tenement sends (`curl --unix-socket S -H 'Host;' http://x/config/`).
      // tenement persists the config itself (the file Caddy is started with), so a restarted
      // Caddy comes back with the routes of the moment.
      config: { persist: false },
    },
    ...(logged
      ? {
          logging: {
            logs: {
              default: { exclude: [`http.log.access.${ACCESS_LOGGER}`] },
              [ACCESS_LOGGER]: {
                // The file writer has no coupling to a reader: Caddy never fails to load because
                // tenement is down (a `net` writer would, on 2.6).
                writer: { output: 'file', filename: o.accessLogFile, roll_size_mb: 50, roll_keep: 2 },
                encoder: { format: 'json' },
                include: [`http.log.access.${ACCESS_LOGGER}`],
              },
            },
          },
        }
      : {}),
    apps: {
      http: {
        grace_period: `${o.gracePeriodSec}s`,
        servers: {
          [SERVER_NAME]: {
            listen: o.httpListen,
            // Plain HTTP on a custom port: without this Caddy 2.6 answers 400 "HTTP request to an HTTPS server".
            automatic_https: { disable: true },
            ...(logged ? { logs: { default_logger_name: ACCESS_LOGGER } } : {}),
            routes: [o.route, { handle: [{ handler: 'static_response', status_code: 404, body: 'no tenement route for this host\n' }] }],
          },
        },
      },
    },
  };
}
