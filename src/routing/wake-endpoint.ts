// The controller's side of a gated route. Caddy sends here every request for an instance that is
// not serving (asleep, starting, restarting); the controller starts it on its stored port if
// needed, waits until it is healthy, and forwards the request. Concurrent requests share one start.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import crypto from 'node:crypto';
import { WAKE_BY_HOST, WAKE_HEADER, WAKE_KEY_HEADER } from '../../caddy/routes.js';
import type { Config } from '../config/types.js';
import type { InstanceRecord } from '../store/types.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../util/logger.js';
import { isDnsLabel } from '../util/instance-key.js';
import { forward, forwardUpgrade } from './forward.js';
import type { HostTenant } from './hosts.js';

export interface WakeEndpointDeps {
  key: string;
  supervisor: Pick<Supervisor, 'get' | 'list' | 'wake' | 'touch'>;
  config: () => Config;
  log: Logger;
  onWake?: (record: InstanceRecord, ms: number) => void;
  /** The tenant a Host header names (routing/hosts.ts): for WAKE_BY_HOST, a host not in lower case. */
  tenantOfHost?: (host: string) => HostTenant | undefined;
}

export function isWakeRequest(req: http.IncomingMessage): boolean {
  return req.headers[WAKE_HEADER.toLowerCase()] !== undefined;
}

function reply(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...(status === 503 ? { 'retry-after': '5' } : {}) });
  res.end(`tenement: ${text}\n`);
}

function pickWeighted(records: InstanceRecord[]): InstanceRecord | undefined {
  const total = records.reduce((n, r) => n + r.weight, 0);
  let x = Math.random() * total;
  for (const r of records) {
    x -= r.weight;
    if (x < 0) return r;
  }
  return records[records.length - 1];
}

export class WakeEndpoint {
  private readonly keyBuf: Buffer;
  /** Requests and streams the controller is forwarding now, per instance: Caddy counts them as
   * requests to the controller, so the instance would otherwise look idle. */
  private readonly inFlight = new Map<string, number>();
  /** Service -> the member wake in progress, shared by concurrent requests for the service route. */
  private readonly serviceWakes = new Map<string, Promise<InstanceRecord>>();

  constructor(private readonly deps: WakeEndpointDeps) {
    this.keyBuf = Buffer.from(deps.key);
  }

  private authorized(req: http.IncomingMessage): boolean {
    const given = Buffer.from(String(req.headers[WAKE_KEY_HEADER.toLowerCase()] ?? ''));
    return given.length === this.keyBuf.length && crypto.timingSafeEqual(given, this.keyBuf);
  }

  /** Wakes the target of a held request: the instance to forward to, or why not (status + reason). */
  private async resolve(req: http.IncomingMessage): Promise<{ record: InstanceRecord; timeoutMs: number } | { status: number; message: string }> {
    if (!this.authorized(req)) return { status: 403, message: "wake requests are accepted from tenement's Caddy routes only" };
    const target = String(req.headers[WAKE_HEADER.toLowerCase()]);
    if (target === WAKE_BY_HOST) return this.resolveByHost(req);
    const [service, id, ...rest] = target.split(':');
    if (!service || !isDnsLabel(service) || rest.length > 0 || (id !== undefined && !isDnsLabel(id))) {
      return { status: 400, message: `bad wake target "${target}"` };
    }
    return this.resolveTarget(service, id);
  }

  /**
   * A request Caddy could not look up because its Host is not in lower case: the instance (or
   * service) it names, lower-cased. Counted as activity: the request passes through here, not
   * straight from Caddy.
   */
  private async resolveByHost(req: http.IncomingMessage): Promise<{ record: InstanceRecord; timeoutMs: number } | { status: number; message: string }> {
    const t = this.deps.tenantOfHost?.(String(req.headers.host ?? ''));
    if (!t) return { status: 404, message: 'no tenement instance or service serves this host' };
    const r = await this.resolveTarget(t.service, t.id);
    if (!('status' in r)) this.deps.supervisor.touch({ service: r.record.service, id: r.record.id });
    return r;
  }

  private async resolveTarget(service: string, id: string | undefined): Promise<{ record: InstanceRecord; timeoutMs: number } | { status: number; message: string }> {
    const target = id === undefined ? service : `${service}:${id}`;
    const svc = this.deps.config().services[service];
    if (!svc) return { status: 404, message: `no service ${service}` };
    let record: InstanceRecord | undefined;
    try {
      record = id !== undefined ? await this.wakeInstance(service, id) : await this.wakeService(service);
    } catch (err) {
      const message = (err as Error).message.split('\n')[0] ?? 'wake failed';
      this.deps.log.warn('wake failed', { target, error: message });
      return { status: (err as { status?: number }).status ?? 503, message };
    }
    if (!record) return { status: 404, message: id !== undefined ? `no instance ${service}:${id}` : `no instance of ${service} takes traffic` };
    return { record, timeoutMs: svc.request_timeout * 1000 };
  }

  /** True while the controller forwards a request or stream to the instance. */
  busy(record: Pick<InstanceRecord, 'service' | 'id'>): boolean {
    return (this.inFlight.get(`${record.service}:${record.id}`) ?? 0) > 0;
  }

  private track(record: InstanceRecord): () => void {
    const key = `${record.service}:${record.id}`;
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.inFlight.get(key) ?? 1) - 1;
      if (n <= 0) this.inFlight.delete(key);
      else this.inFlight.set(key, n);
    };
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const r = await this.resolve(req);
    if ('status' in r) return reply(res, r.status, r.message);
    const untrack = this.track(r.record);
    try {
      await forward(req, res, r.record.port, r.timeoutMs);
    } finally {
      untrack();
    }
  }

  /**
   * A request that reached the controller's port with a tenant's Host (a front proxy sending
   * *.domain to `ten serve --port`, as set up for tenement 0.2; see front-proxy.ts): served like a
   * held request, minus the key (it did not come from our Caddy routes), and counted as activity.
   */
  async handleHost(req: http.IncomingMessage, res: http.ServerResponse, service: string, id: string | undefined): Promise<void> {
    const r = await this.resolveTarget(service, id);
    if ('status' in r) return reply(res, r.status, r.message);
    this.deps.supervisor.touch({ service: r.record.service, id: r.record.id });
    const untrack = this.track(r.record);
    try {
      await forward(req, res, r.record.port, r.timeoutMs);
    } finally {
      untrack();
      this.deps.supervisor.touch({ service: r.record.service, id: r.record.id });
    }
  }

  async handleHostUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, service: string, id: string | undefined): Promise<void> {
    const r = await this.resolveTarget(service, id);
    if ('status' in r) {
      socket.end(`HTTP/1.1 ${r.status} ${http.STATUS_CODES[r.status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n\r\ntenement: ${r.message}\n`);
      return;
    }
    this.deps.supervisor.touch({ service: r.record.service, id: r.record.id });
    const untrack = this.track(r.record);
    socket.once('close', untrack);
    forwardUpgrade(req, socket, head, r.record.port);
  }

  /** A WebSocket (or other Upgrade) request for a sleeping instance: wake it, then splice the sockets. */
  async handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const r = await this.resolve(req);
    if ('status' in r) {
      socket.end(`HTTP/1.1 ${r.status} ${http.STATUS_CODES[r.status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n\r\ntenement: ${r.message}\n`);
      return;
    }
    const untrack = this.track(r.record);
    socket.once('close', untrack);
    forwardUpgrade(req, socket, head, r.record.port);
  }

  private async wakeInstance(service: string, id: string): Promise<InstanceRecord | undefined> {
    const { supervisor } = this.deps;
    const record = supervisor.get({ service, id });
    // Only instances that exist wake: an unknown id creates nothing.
    if (!record) return undefined;
    if (record.observed === 'running') return record;
    const t0 = performance.now();
    const woken = await withTimeout(
      supervisor.wake({ service, id }),
      (this.deps.config().services[service]?.startup_timeout ?? 10) * 1000 + 5000,
      `${service}:${id} did not become healthy in time`,
    );
    this.deps.onWake?.(woken, performance.now() - t0);
    return woken;
  }

  /**
   * A request for a service route while a member's gate is closed. Served by a running member if
   * there is one, waking nobody; otherwise one member is woken (chosen by weight; one already
   * starting is preferred), and the next only if that one cannot start. Concurrent requests share
   * the wake. Issue 11 #4: waking every member for one anonymous request multiplied the cost of a
   * request by the size of the service; the others stay asleep until their own traffic wakes them.
   */
  private async wakeService(service: string): Promise<InstanceRecord | undefined> {
    const members = this.deps.supervisor.list({ service }).filter((r) => r.weight > 0 && r.observed !== 'failed');
    if (members.length === 0) return undefined;
    const serving = members.filter((r) => r.observed === 'running');
    if (serving.length > 0) return pickWeighted(serving);
    const pending = this.serviceWakes.get(service);
    if (pending) return pending;
    const wake = this.wakeOneOf(members).finally(() => this.serviceWakes.delete(service));
    this.serviceWakes.set(service, wake);
    return wake;
  }

  private async wakeOneOf(candidates: InstanceRecord[]): Promise<InstanceRecord> {
    let left = candidates;
    let lastError: Error | undefined;
    while (left.length > 0) {
      const pick = left.find((r) => r.observed === 'starting') ?? pickWeighted(left)!;
      try {
        const woken = await this.wakeInstance(pick.service, pick.id);
        if (woken) return woken;
      } catch (err) {
        lastError = err as Error;
      }
      left = left.filter((r) => r !== pick);
    }
    throw lastError ?? new Error(`no instance of ${candidates[0]?.service ?? 'the service'} could be started`);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(Object.assign(new Error(message), { status: 503 })), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
