// What the API is built from, and the per-request context its handlers share.
import type { HttpBindings } from '@hono/node-server';
import type { Authenticator } from '../auth/authenticator.js';
import type { StreamGuard } from './stream-guard.js';
import type { FailureLimiter } from '../auth/failure-limiter.js';
import type { Principal } from '../auth/principal.js';
import type { LogFeed } from '../logs/log-feed.js';
import type { Metrics } from '../metrics/metrics.js';
import type { AuditStore } from '../store/audit-store.js';
import type { LogStore } from '../store/log-store.js';
import type { TokenStore } from '../store/token-store.js';
import type { Logger } from '../util/logger.js';
import type { ControlPlane } from './contract.js';

export interface ApiDeps {
  control: ControlPlane;
  tokens: TokenStore;
  audit: AuditStore;
  logs: LogStore;
  /** Live lines for GET /api/logs/stream (LogCapture publishes to it). */
  logFeed: LogFeed;
  metrics: Metrics;
  log: Logger;
  now?: () => number;
  /** Failed-authentication limit per client address; default 10 failures per 60 s. */
  limiter?: FailureLimiter;
  /** Default: a new Authenticator on `tokens`. */
  authenticator?: Authenticator;
  /** Lines an SSE follower may fall behind before it is told it missed some. Default 1000. */
  streamBuffer?: number;
  /** Interval of SSE keep-alive comments (proxies close idle connections). Default 15 s. */
  streamKeepAliveMs?: number;
  /** Log streams per token and their token re-check. Default: a StreamGuard on `tokens`. */
  streamGuard?: StreamGuard;
  /** Security settings from the config, read per request so a config reload applies at once. */
  security?: () => ApiSecurity;
}

export interface ApiSecurity {
  /** Peers whose X-Forwarded-For names the client ([settings] trusted_proxies). */
  trustedProxies: readonly string[];
  /** When set, GET /metrics needs `Authorization: Bearer <this>` (or an admin token). */
  metricsToken: string | undefined;
  /** Services whose instances a tenant token may spawn and stop itself ([service.X] tenant_spawn). */
  tenantSpawn: readonly string[];
}

/** Resolved dependencies, as the route modules get them. */
export interface ApiContext extends Required<Omit<ApiDeps, 'now'>> {
  now: () => number;
}

export type ApiEnv = {
  // Present when served by @hono/node-server; absent under app.request() in unit tests.
  Bindings: Partial<HttpBindings>;
  Variables: {
    principal: Principal;
    clientAddress: string;
    /** An audited() operation recorded this request itself. */
    audited: boolean;
    /** /metrics: the request carried the configured metrics token. */
    metricsTokenOk: boolean;
  };
};
