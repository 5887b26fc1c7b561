// A whole tenement in-process: controller + managed Caddy (real, 2.6.2 here) + real tenant
// processes, in a temp dir that marks every process it starts so clean-up can find them.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import assert from 'node:assert/strict';
import got, { type Response } from 'got';
import { Controller } from '../../src/controller/controller.js';
import { ManagedCaddy } from '../../caddy/managed-caddy.js';
import { caddyProcessHost } from '../../src/routing/caddy-process-host.js';
import { silentLogger, createLogger, type Logger } from '../../src/util/logger.js';
import { tempDir } from './temp-dir.js';
import { freePort } from './controller-process.js';
import { killAllMentioning, pidsMentioning, removeCgroupsOf } from './processes.js';

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT';
  body?: Buffer | string;
  timeoutMs?: number;
  /** A new connection per request instead of keep-alive. */
  fresh?: boolean;
}

const freshAgent = new http.Agent({ keepAlive: false });

export interface Stack {
  dir: string;
  dataDir: string;
  configFile: string;
  controller: Controller;
  port: number;
  httpPort: number;
  domain: string;
  /** A request through Caddy with the given Host. */
  request(host: string, p?: string, opts?: RequestOptions): Promise<Response<string>>;
  /** Config changes Caddy received over its admin API (from Caddy's own log). */
  caddyChanges(): number;
  /** Stops the controller (tenants and Caddy keep running) and starts a new one on the same data dir. */
  restartController(): Promise<Controller>;
}

const log: Logger = process.env.TENEMENT_TEST_LOG ? createLogger({ format: 'json' }) : silentLogger;

export async function withStack(toml: (dataDir: string) => string, fn: (s: Stack) => Promise<void>, opts: { domain?: string } = {}): Promise<void> {
  const { dir, cleanup } = tempDir('tenement-stack-');
  const dataDir = path.join(dir, 'data');
  const configFile = path.join(dir, 'tenement.toml');
  fs.writeFileSync(configFile, toml(dataDir));
  const port = await freePort();
  const httpPort = await freePort();
  const domain = opts.domain ?? 'localhost';
  const start = () =>
    Controller.start({
      configFile,
      host: '127.0.0.1',
      port,
      domain,
      caddy: { mode: 'managed', bin: 'caddy', httpHost: '127.0.0.1', httpPort },
      log,
    });
  let controller = await start();
  const s: Stack = {
    dir,
    dataDir,
    configFile,
    get controller() {
      return controller;
    },
    port,
    httpPort,
    domain,
    request(host, p = '/', o = {}) {
      return got(`http://127.0.0.1:${httpPort}${p}`, {
        method: o.method ?? 'GET',
        headers: { host },
        ...(o.fresh ? { agent: { http: freshAgent } } : {}),
        ...(o.body !== undefined ? { body: o.body } : {}),
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: o.timeoutMs ?? 20_000 },
      });
    },
    caddyChanges() {
      const text = fs.readFileSync(path.join(dataDir, '_caddy', 'caddy.log'), 'utf8');
      return text.split('\n').filter((l) => l.includes('"logger":"admin.api"') && l.includes('"msg":"received request"') && /"method":"(POST|PATCH|PUT|DELETE)"/.test(l)).length;
    },
    async restartController() {
      await controller.close();
      controller = await start();
      return controller;
    },
  };
  let passed = false;
  try {
    await fn(s);
    passed = true;
  } finally {
    await controller.supervisor.stopAll().catch(() => undefined);
    await controller.close().catch(() => undefined);
    await new ManagedCaddy('caddy', dataDir, silentLogger, caddyProcessHost()).stop().catch(() => undefined);
    const leftovers = pidsMentioning(dir);
    killAllMentioning(dir);
    removeCgroupsOf(dataDir);
    cleanup();
    if (passed) assert.deepEqual(leftovers, [], `processes left behind: ${leftovers.join(', ')}`);
  }
}
