// The controller's one listener: where it listens (host:port, or a socket it inherited from
// systemd or the previous controller), which handler a request goes to (the wake endpoint for
// Caddy's gated routes, /caddy/ask for on-demand TLS, else the API), and how it stops (stop
// accepting, let requests in flight finish, then cut what is left).
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { InheritedListener } from './inherited-listener.js';
import type { FrontProxyTarget } from '../routing/front-proxy.js';

export interface FrontHandlers {
  /** Requests Caddy sends for instances that are not serving. */
  wake: {
    isWakeRequest(req: http.IncomingMessage): boolean;
    handle(req: http.IncomingMessage, res: http.ServerResponse): void | Promise<void>;
    handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void | Promise<void>;
  };
  /** On-demand TLS approval, at its exact path only. */
  ask: { matches(req: http.IncomingMessage): boolean; handle(req: http.IncomingMessage, res: http.ServerResponse): void };
  /** Tenant hosts sent straight to the controller's port by a 0.2-style front proxy (served through the wake path). */
  tenant?: {
    target(req: http.IncomingMessage): FrontProxyTarget | undefined;
    handle(req: http.IncomingMessage, res: http.ServerResponse, t: FrontProxyTarget): void | Promise<void>;
    handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, t: FrontProxyTarget): void | Promise<void>;
  };
  /** Everything else: /health, /metrics, /api/*. */
  api: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;
}

export interface FrontOptions {
  host: string;
  port: number;
  /** A listening socket to use instead of binding host:port. */
  listener: InheritedListener | undefined;
  handlers: FrontHandlers;
  /** How long close() lets in-flight requests finish before cutting them. */
  drainMs: number;
}

/** How long the controller keeps an idle client connection (Node's default, stated: Caddy's idle timeout to us must stay below it). */
export const CONTROLLER_KEEPALIVE_MS = 5000;

export class HttpFront {
  readonly server: http.Server;

  private constructor(
    server: http.Server,
    private readonly drainMs: number,
  ) {
    this.server = server;
  }

  /** Creates the server and listens; rejects with where it could not listen and why. */
  static async open(opts: FrontOptions): Promise<HttpFront> {
    const { wake, ask, tenant, api } = opts.handlers;
    const server = http.createServer((req, res) => {
      if (wake.isWakeRequest(req)) return void wake.handle(req, res);
      if (ask.matches(req)) return ask.handle(req, res);
      const t = tenant?.target(req);
      if (t) return void tenant!.handle(req, res, t);
      void api(req, res);
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (wake.isWakeRequest(req)) return void wake.handleUpgrade(req, socket, head);
      const t = tenant?.target(req);
      if (t) void tenant!.handleUpgrade(req, socket, head, t);
      else socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
    });
    // Longer than Caddy keeps an idle connection to us (CONTROLLER_IDLE_SEC in caddy/routes.ts):
    // Caddy must close first, or it may send a request on a connection we are closing.
    server.keepAliveTimeout = CONTROLLER_KEEPALIVE_MS;
    await listen(server, opts.host, opts.port, opts.listener);
    return new HttpFront(server, opts.drainMs);
  }

  /** The address Caddy dials to reach the controller: the one actually bound (an inherited socket may differ from --port). */
  dialAddress(fallback: string): string {
    const bound = this.server.address();
    return bound && typeof bound === 'object' ? `${loopbackFor(bound.address, bound.family)}:${bound.port}` : fallback;
  }

  /** Stops accepting (a shared or inherited socket stays open in its other holders), lets requests in flight finish, then cuts what is left (e.g. log streams, which resume). */
  close(): Promise<void> {
    const server = this.server;
    return new Promise<void>((resolve) => {
      const cut = setTimeout(() => server.closeAllConnections(), this.drainMs);
      server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      server.closeIdleConnections();
    });
  }
}

function listen(server: http.Server, host: string, port: number, inherited: InheritedListener | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const where = inherited ? `inherited socket (fd ${inherited.fd}, ${inherited.source})` : `${host}:${port}`;
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${where}: ${err.code === 'EADDRINUSE' ? 'address already in use (another controller? use --port)' : err.message}`));
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if (inherited) server.listen({ fd: inherited.fd }, done);
    else server.listen(port, host, done);
  });
}

/** An address Caddy on this machine can dial for a listener bound to `host`. */
export function loopbackFor(host: string, family?: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return family === 'IPv6' || host.includes(':') ? `[${host}]` : host;
}

/** The descriptor of a listening server (for handing it to the next controller). */
export function serverFd(server: http.Server): number {
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the controller listener has no file descriptor to hand over');
  return fd;
}
