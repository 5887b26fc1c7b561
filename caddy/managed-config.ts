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
}

export function buildManagedConfig(o: ManagedConfigOptions): CaddyJson {
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
    ...(logged ? { logging: {
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
    } } : {}),
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
