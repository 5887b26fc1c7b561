// Caddy's JSON admin API, over TCP (`http://127.0.0.1:2019`) or a unix socket (`unix//path`).
// Caddy restarts its admin server on every config change, so connections are never reused, and
// idempotent calls are retried when the old server resets them.
import http from 'node:http';
import got, { type Method, RequestError } from 'got';

export class CaddyAdminError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number | undefined,
    detail: string,
    readonly address: string,
  ) {
    super(`Caddy admin ${method} ${path} at ${address} ${status ? `answered ${status}` : 'failed'}: ${detail}`);
    this.name = 'CaddyAdminError';
  }

  /** Caddy is not there (not started yet, restarting, wrong address). */
  get unreachable(): boolean {
    return this.status === undefined;
  }
}

/** JSON text to send as a request body unchanged. */
export class Serialized {
  constructor(readonly json: string) {}
}

export interface UpstreamStatus {
  address: string;
  num_requests: number;
  fails: number;
}

interface Target {
  /** Prefix to which an admin path is appended. */
  base: string;
  unix: boolean;
}

export function parseAdminAddress(address: string): Target {
  const unix = /^unix\/?\/(.+)$/.exec(address) ?? /^unix:(\/.+)$/.exec(address);
  if (unix) return { base: `http://unix:/${unix[1]!.replace(/^\/+/, '')}:`, unix: true };
  if (/^https?:\/\//.test(address)) return { base: address.replace(/\/+$/, ''), unix: false };
  if (/^[\w.-]*:\d+$/.test(address) || /^\[[0-9a-f:]+\]:\d+$/i.test(address)) return { base: `http://${address}`, unix: false };
  throw new Error(`"${address}" is not a Caddy admin address: use http://127.0.0.1:2019 or unix//path/to/admin.sock`);
}

const agent = new http.Agent({ keepAlive: false });

/**
 * Over a unix socket Caddy 2.6 accepts only an empty Host header (it rejects "localhost" unless
 * the config lists it in admin.origins); got always sets one, so requests are built here.
 */
function unixRequest(url: URL | string, options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void): http.ClientRequest {
  const headers: http.OutgoingHttpHeaders = { ...(options.headers as http.OutgoingHttpHeaders | undefined) };
  delete headers.host;
  headers.host = '';
  return http.request(url, { ...options, setHost: false, headers }, callback);
}

export class CaddyAdminClient {
  private readonly target: Target;

  constructor(
    readonly address: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.target = parseAdminAddress(address);
  }

  private async call<T>(method: Method, path: string, body?: unknown, idempotent = method !== 'POST'): Promise<T> {
    try {
      const res = await got(`${this.target.base}${path}`, {
        method,
        agent: { http: agent },
        enableUnixSockets: this.target.unix,
        ...(this.target.unix ? { request: unixRequest as never } : {}),
        // A Serialized body is sent as it is: a large config is stringified once, not per use.
        ...(body instanceof Serialized ? { body: body.json } : body !== undefined ? { json: body } : {}),
        headers: { 'cache-control': 'must-revalidate', ...(body instanceof Serialized ? { 'content-type': 'application/json' } : {}) },
        throwHttpErrors: false,
        retry: {
          limit: idempotent ? 3 : 0,
          methods: ['GET', 'PUT', 'PATCH', 'DELETE', 'POST', 'HEAD', 'OPTIONS'],
          errorCodes: ['ECONNRESET', 'EPIPE'],
          statusCodes: [],
          calculateDelay: ({ attemptCount, computedValue }) => (computedValue === 0 ? 0 : 20 * attemptCount),
        },
        timeout: { request: this.timeoutMs },
      });
      if (res.statusCode >= 300) {
        let detail = res.body;
        try {
          detail = (JSON.parse(res.body) as { error?: string }).error ?? res.body;
        } catch {
          // not JSON: keep the text
        }
        throw new CaddyAdminError(method, path, res.statusCode, detail.trim(), this.address);
      }
      return (res.body ? JSON.parse(res.body) : undefined) as T;
    } catch (err) {
      if (err instanceof CaddyAdminError) throw err;
      const e = err as RequestError;
      throw new CaddyAdminError(method, path, undefined, e.code ?? e.message, this.address);
    }
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  /** Replaces the whole config (one reload). `POST /load` of the same config is idempotent. */
  load(config: unknown): Promise<void> {
    return this.call('POST', '/load', config, true);
  }

  /** Replaces the value at path (which must exist). */
  patch(path: string, value: unknown): Promise<void> {
    return this.call('PATCH', path, value);
  }

  /** Creates the value at path; on an array index, inserts before it. */
  put(path: string, value: unknown): Promise<void> {
    return this.call('PUT', path, value, false);
  }

  /** Appends to the array at path. */
  append(path: string, value: unknown): Promise<void> {
    return this.call('POST', path, value, false);
  }

  delete(path: string): Promise<void> {
    return this.call('DELETE', path);
  }

  upstreams(): Promise<UpstreamStatus[]> {
    return this.get<UpstreamStatus[]>('/reverse_proxy/upstreams');
  }

  /** True when the admin endpoint answers. */
  async reachable(): Promise<boolean> {
    try {
      await this.get('/config/admin');
      return true;
    } catch {
      return false;
    }
  }
}
