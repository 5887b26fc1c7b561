// The `ten` client's view of the REST API: one method per endpoint, the server's `error` message
// as the Error message when it refuses, and a clear message when it cannot be reached at all.
import got, { type Got, type OptionsOfTextResponseBody, RequestError } from 'got';
import type {
  AuditJson,
  CreatedTokenJson,
  DeployResponse,
  InstanceHealthResponse,
  InstanceJson,
  LogJson,
  MissedJson,
  RouteResponse,
  SpawnResponse,
  TokenJson,
  WeightResponse,
} from '../../api/contract.js';
import type { Connection } from './connection.js';
import { SseParser } from './sse.js';

export class ApiRequestError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

export interface LogFilterParams {
  process?: string | undefined;
  id?: string | undefined;
  level?: string | undefined;
  search?: string | undefined;
  since?: string | undefined;
}

export type StreamItem = { kind: 'log'; line: LogJson } | { kind: 'missed'; missed: MissedJson };

const DEFAULT_TIMEOUT_MS = 30_000;

export class ApiClient {
  private readonly http: Got;

  constructor(private readonly conn: Connection) {
    this.http = got.extend({
      prefixUrl: conn.server,
      headers: { authorization: `Bearer ${conn.token}`, 'user-agent': 'ten' },
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: DEFAULT_TIMEOUT_MS },
    });
  }

  list(process?: string): Promise<InstanceJson[]> {
    return this.call('GET', 'api/instances', { searchParams: process ? { process } : {} });
  }
  get(instance: string): Promise<InstanceJson> {
    return this.call('GET', `api/instances/${encodeURIComponent(instance)}`);
  }
  /** Waits for the instance to be ready: the server answers once it is healthy (or failed). */
  spawn(process: string, id: string, timeoutMs = 5 * 60_000): Promise<SpawnResponse> {
    return this.call('POST', 'api/instances/spawn', { json: { process, id }, timeout: { request: timeoutMs } });
  }
  async stop(instance: string): Promise<void> {
    await this.call('DELETE', `api/instances/${encodeURIComponent(instance)}`, { timeout: { request: 5 * 60_000 } });
  }
  restart(instance: string): Promise<SpawnResponse> {
    return this.call('POST', `api/instances/${encodeURIComponent(instance)}/restart`, { timeout: { request: 5 * 60_000 } });
  }
  /** Waits for the start like a request to the instance would (a cold start can take a while). */
  wake(instance: string): Promise<SpawnResponse> {
    return this.call('POST', `api/instances/${encodeURIComponent(instance)}/wake`, { timeout: { request: 5 * 60_000 } });
  }
  setWeight(instance: string, weight: number): Promise<WeightResponse> {
    return this.call('PUT', `api/instances/${encodeURIComponent(instance)}/weight`, { json: { weight } });
  }
  health(instance: string): Promise<InstanceHealthResponse> {
    return this.call('GET', `api/instances/${encodeURIComponent(instance)}/health`);
  }
  deploy(process: string, version: string, weight: number, timeoutSec: number): Promise<DeployResponse> {
    // The server waits up to timeoutSec for health; give the request that plus room to answer.
    return this.call('POST', 'api/deploy', { json: { process, version, weight, timeout: timeoutSec }, timeout: { request: (timeoutSec + 30) * 1000 } });
  }
  route(process: string, from: string, to: string): Promise<RouteResponse> {
    return this.call('POST', 'api/route', { json: { process, from, to } });
  }
  logs(filters: LogFilterParams, limit: number): Promise<LogJson[]> {
    return this.call('GET', 'api/logs', { searchParams: { ...definedOnly(filters), limit } });
  }
  tokens(): Promise<TokenJson[]> {
    return this.call('GET', 'api/tokens');
  }
  createToken(tenant: string, label?: string): Promise<CreatedTokenJson> {
    return this.call('POST', 'api/tokens', { json: label ? { tenant, label } : { tenant } });
  }
  async revokeToken(id: string): Promise<void> {
    await this.call('DELETE', `api/tokens/${encodeURIComponent(id)}`);
  }
  audit(params: { target?: string; since?: string; limit?: number }): Promise<AuditJson[]> {
    return this.call('GET', 'api/audit', { searchParams: definedOnly(params) });
  }

  /**
   * Follows GET /api/logs/stream until `signal` aborts or the server ends the stream. Resumes
   * after `afterId` (sent as Last-Event-ID) so nothing between a listing and the stream is lost.
   */
  async followLogs(filters: LogFilterParams, afterId: number | undefined, onItem: (item: StreamItem) => void, signal?: AbortSignal): Promise<void> {
    const stream = this.http.stream('api/logs/stream', {
      searchParams: definedOnly(filters),
      headers: afterId !== undefined ? { 'last-event-id': String(afterId), accept: 'text/event-stream' } : { accept: 'text/event-stream' },
      timeout: {}, // an idle follow is normal; keep-alive comments arrive every 15 s anyway
      ...(signal ? { signal } : {}),
    });
    const parser = new SseParser();
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      stream.once('response', (res: { statusCode: number }) => {
        if (res.statusCode === 200) return;
        failed = true;
        let body = '';
        stream.on('data', (d: Buffer) => (body += d.toString()));
        stream.once('end', () => reject(this.errorFrom(res.statusCode, body)));
      });
      stream.on('data', (chunk: Buffer) => {
        if (failed) return;
        for (const ev of parser.push(chunk.toString('utf8'))) {
          if (ev.event === 'message' || ev.event === 'log') onItem({ kind: 'log', line: JSON.parse(ev.data) as LogJson });
          else if (ev.event === 'missed') onItem({ kind: 'missed', missed: JSON.parse(ev.data) as MissedJson });
          else if (ev.event === 'error') {
            // The server ended the stream for a reason (e.g. the token was revoked).
            failed = true;
            reject(new Error((JSON.parse(ev.data) as { error?: string }).error ?? 'the server ended the log stream'));
            return;
          }
        }
      });
      stream.once('end', () => {
        if (!failed) resolve();
      });
      stream.once('error', (err: Error) => {
        if (signal?.aborted) resolve();
        else reject(this.connectError(err));
      });
    });
  }

  private async call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: OptionsOfTextResponseBody = {}): Promise<T> {
    let res;
    try {
      res = await this.http(path, { ...options, method });
    } catch (err) {
      throw this.connectError(err as Error);
    }
    if (res.statusCode >= 200 && res.statusCode < 300) {
      if (res.statusCode === 204 || res.body === '') return undefined as T;
      try {
        return JSON.parse(res.body) as T;
      } catch {
        throw new ApiRequestError(`${this.conn.server} answered ${method} /${path} with something that is not JSON; is it a tenement server?`, res.statusCode);
      }
    }
    throw this.errorFrom(res.statusCode, res.body);
  }

  private errorFrom(status: number, body: string): ApiRequestError {
    let message = `server answered HTTP ${status}`;
    try {
      const parsed = JSON.parse(body) as { error?: unknown };
      if (typeof parsed.error === 'string') message = parsed.error;
    } catch {
      // not JSON: keep the status
    }
    return new ApiRequestError(message, status);
  }

  private connectError(err: Error): Error {
    if (err instanceof RequestError) {
      const code = err.code;
      if (code === 'ETIMEDOUT') return new Error(`no answer from ${this.conn.server} in time (${err.message})`, { cause: err });
      return new Error(`cannot reach the tenement server at ${this.conn.server}: ${code ?? err.message} (is \`ten serve\` running? set --server or TENEMENT_SERVER)`, {
        cause: err,
      });
    }
    return err;
  }
}

function definedOnly<T extends object>(o: T): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') out[k] = v as string | number;
  return out;
}
