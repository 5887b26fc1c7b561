// An API under test: createApi with an in-memory ControlPlane and real stores on a temp database,
// served by @hono/node-server on 127.0.0.1:0.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import got, { type Got } from 'got';
import { createApi } from '../../src/api/app.js';
import type { ApiDeps } from '../../src/api/env.js';
import { ControlPlaneError, type ControlPlane, type ControllerHealth, type DeployResult, type InstanceResources } from '../../src/api/contract.js';
import { issueToken } from '../../src/auth/tokens.js';
import { FailureLimiter } from '../../src/auth/failure-limiter.js';
import { LogFeed } from '../../src/logs/log-feed.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { AuditStore } from '../../src/store/audit-store.js';
import { openDatabase, type OpenedDatabase } from '../../src/store/database.js';
import { LogStore } from '../../src/store/log-store.js';
import { TokenStore } from '../../src/store/token-store.js';
import type { InstanceRecord } from '../../src/store/types.js';
import { formatKey, type InstanceKey } from '../../src/util/instance-key.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir } from '../helpers/temp-dir.js';

/** What a test can make the fake controller do. */
export interface FakeBehaviour {
  spawnError?: Error;
  deployError?: Error;
  probe?: { ok: boolean; detail: string };
  health?: ControllerHealth['status'];
}

export class FakeControlPlane implements ControlPlane {
  readonly records = new Map<string, InstanceRecord>();
  readonly calls: string[] = [];
  behaviour: FakeBehaviour = {};
  /** Set by a test to report resources (ControlPlane.resources is optional: unset = not measured). */
  resources?: (record: InstanceRecord) => InstanceResources;
  private nextPort = 31000;

  constructor(private readonly serviceNames: string[] = ['api', 'notes']) {}

  add(service: string, id: string, patch: Partial<InstanceRecord> = {}): InstanceRecord {
    const now = Date.now();
    const r: InstanceRecord = {
      service,
      id,
      port: this.nextPort++,
      pid: 4000 + this.records.size,
      pidStartTime: '1',
      desired: 'running',
      observed: 'running',
      health: 'healthy',
      weight: 100,
      healthFailures: 0,
      restartCount: 0,
      createdAt: now,
      startedAt: now - 65_000,
      lastActivityAt: now - 5_000,
      lastError: null,
      lastExit: null,
      ...patch,
    };
    this.records.set(`${service}:${id}`, r);
    return r;
  }

  list(filter: { service?: string; id?: string } = {}): InstanceRecord[] {
    return [...this.records.values()]
      .filter((r) => (filter.service === undefined || r.service === filter.service) && (filter.id === undefined || r.id === filter.id))
      .sort((a, b) => a.service.localeCompare(b.service) || a.id.localeCompare(b.id));
  }
  get(key: InstanceKey): InstanceRecord | undefined {
    return this.records.get(formatKey(key));
  }
  private must(key: InstanceKey): InstanceRecord {
    const r = this.get(key);
    if (!r) throw new ControlPlaneError('not_found', `instance ${formatKey(key)} does not exist`);
    return r;
  }
  async spawn(key: InstanceKey): Promise<InstanceRecord> {
    this.calls.push(`spawn ${formatKey(key)}`);
    if (this.behaviour.spawnError) throw this.behaviour.spawnError;
    return this.add(key.service, key.id);
  }
  async stop(key: InstanceKey): Promise<void> {
    this.calls.push(`stop ${formatKey(key)}`);
    this.must(key);
    this.records.delete(formatKey(key));
  }
  async restart(key: InstanceKey): Promise<InstanceRecord> {
    this.calls.push(`restart ${formatKey(key)}`);
    const r = this.must(key);
    r.restartCount++;
    r.startedAt = Date.now();
    return r;
  }
  async wake(key: InstanceKey): Promise<InstanceRecord> {
    this.calls.push(`wake ${formatKey(key)}`);
    const r = this.must(key);
    r.observed = 'running';
    r.desired = 'running';
    return r;
  }
  async setWeight(key: InstanceKey, weight: number): Promise<InstanceRecord> {
    this.calls.push(`weight ${formatKey(key)} ${weight}`);
    const r = this.must(key);
    r.weight = weight;
    return r;
  }
  async deploy(service: string, version: string, weight: number, timeoutSec: number): Promise<DeployResult> {
    this.calls.push(`deploy ${service}:${version} ${weight} ${timeoutSec}`);
    if (this.behaviour.deployError) throw this.behaviour.deployError;
    const r = this.add(service, version, { weight });
    return { instance: r, route_changes: 1 };
  }
  async route(service: string, from: string, to: string): Promise<{ from: InstanceRecord; to: InstanceRecord }> {
    this.calls.push(`route ${service} ${from} ${to}`);
    const a = this.must({ service, id: from });
    const b = this.must({ service, id: to });
    a.weight = 0;
    b.weight = 100;
    return { from: a, to: b };
  }
  async probe(key: InstanceKey): Promise<{ ok: boolean; detail: string }> {
    this.must(key);
    return this.behaviour.probe ?? { ok: true, detail: 'GET /health -> 200' };
  }
  health(): ControllerHealth {
    const status = this.behaviour.health ?? 'ok';
    return { status, version: 'test', uptime_seconds: 1, parts: { store: { ok: status !== 'down' }, caddy: { ok: true } } };
  }
  url(r: InstanceRecord): string | null {
    return `http://${r.id}.${r.service}.localhost:8000`;
  }
  services(): string[] {
    return this.serviceNames;
  }
}

export interface TestApi {
  url: string;
  port: number;
  control: FakeControlPlane;
  deps: ApiDeps;
  opened: OpenedDatabase;
  dataDir: string;
  adminToken: string;
  /** A got instance with the admin token. */
  admin: Got;
  /** A got instance with a token of `tenant` (created on first use). */
  tenant(name: string): Got;
  tokenFor(name: string): string;
  /** Without a token; never throws on HTTP errors. */
  anon: Got;
  close(): Promise<void>;
}

export interface TestApiOptions {
  limiter?: FailureLimiter;
  streamBuffer?: number;
  services?: string[];
  security?: ApiDeps['security'];
  streamGuard?: (tokens: TokenStore) => NonNullable<ApiDeps['streamGuard']>;
}

export async function startTestApi(opts: TestApiOptions = {}): Promise<TestApi> {
  const { dir, cleanup } = tempDir('tenement-api-');
  const opened = openDatabase(dir);
  const control = new FakeControlPlane(opts.services);
  const tokens = new TokenStore(opened.db);
  const logs = new LogStore(opened.db);
  const deps: ApiDeps = {
    control,
    tokens,
    audit: new AuditStore(opened.db),
    logs,
    logFeed: new LogFeed(),
    metrics: new Metrics({ instances: () => control.list() }),
    log: silentLogger,
    ...(opts.limiter ? { limiter: opts.limiter } : {}),
    ...(opts.streamBuffer ? { streamBuffer: opts.streamBuffer } : {}),
    ...(opts.security ? { security: opts.security } : {}),
    ...(opts.streamGuard ? { streamGuard: opts.streamGuard(tokens) } : {}),
  };
  const app = createApi(deps);
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const adminToken = issueToken(tokens, { tenant: null, label: 'test admin' }).token;
  const base = got.extend({ prefixUrl: url, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 10_000 } });
  const tenantTokens = new Map<string, string>();
  const tokenFor = (name: string) => {
    let t = tenantTokens.get(name);
    if (!t) {
      t = issueToken(tokens, { tenant: name }).token;
      tenantTokens.set(name, t);
    }
    return t;
  };
  return {
    url,
    port,
    control,
    deps,
    opened,
    dataDir: dir,
    adminToken,
    admin: base.extend({ headers: { authorization: `Bearer ${adminToken}` } }),
    tenant: (name) => base.extend({ headers: { authorization: `Bearer ${tokenFor(name)}` } }),
    tokenFor,
    anon: base,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      opened.db.close();
      cleanup();
    },
  };
}
