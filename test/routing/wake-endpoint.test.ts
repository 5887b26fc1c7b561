import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { after, before, beforeEach, describe, it } from 'node:test';
import { WAKE_BY_HOST, WAKE_HEADER, WAKE_KEY_HEADER } from '../../caddy/routes.js';
import { parseConfigText } from '../../src/config/load.js';
import type { InstanceRecord, ObservedState } from '../../src/store/types.js';
import { tenantOfHost } from '../../src/routing/hosts.js';
import { isWakeRequest, WakeEndpoint, type WakeEndpointDeps } from '../../src/routing/wake-endpoint.js';
import type { InstanceKey } from '../../src/util/instance-key.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../../src/util/wait.js';

const KEY = 'k'.repeat(32);
const config = parseConfigText('[service.notes]\ncommand = "x"\n[service.web]\ncommand = "x"\n', '/nowhere/tenement.toml').config;

function record(service: string, id: string, port: number, observed: ObservedState, weight = 100): InstanceRecord {
  return {
    service,
    id,
    port,
    pid: null,
    pidStartTime: null,
    desired: 'running',
    observed,
    health: 'unknown',
    weight,
    healthFailures: 0,
    restartCount: 0,
    createdAt: 0,
    startedAt: null,
    lastActivityAt: null,
    lastError: null,
    lastExit: null,
  };
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

describe('WakeEndpoint', () => {
  // Two fake instances: each answers with its name, or holds the answer while told to.
  let held: (() => void)[] = [];
  let holdNext = false;
  const instance = (name: string) =>
    http.createServer((req, res) => {
      const answer = () => res.end(`${name} ${req.method} ${req.url}`);
      if (holdNext) held.push(answer);
      else answer();
    });
  const alice = instance('alice');
  const bob = instance('bob');
  let alicePort = 0;
  let bobPort = 0;

  // The supervisor seen through the endpoint's interface: records, and wakes that tests script.
  let records: InstanceRecord[] = [];
  let wakes: string[] = [];
  let wakeResult: (key: InstanceKey) => Promise<InstanceRecord>;
  const k = (x: InstanceKey) => `${x.service}:${x.id}`;
  const supervisor: WakeEndpointDeps['supervisor'] = {
    get: (key) => records.find((r) => k(r) === k(key)),
    list: (filter) => records.filter((r) => filter?.service === undefined || r.service === filter.service),
    wake: (key) => {
      wakes.push(k(key));
      return wakeResult(key);
    },
    touch: (key) => void touched.push(k(key)),
  };
  const touched: string[] = [];
  const woken: string[] = [];
  const endpoint = new WakeEndpoint({
    key: KEY,
    supervisor,
    config: () => config,
    log: silentLogger,
    onWake: (r) => woken.push(k(r)),
    tenantOfHost: (host) => tenantOfHost(host, 'example.com', config.routing),
  });
  const front = http.createServer((req, res) => {
    assert.equal(isWakeRequest(req), req.headers[WAKE_HEADER.toLowerCase()] !== undefined);
    void endpoint.handle(req, res);
  });
  front.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void endpoint.handleUpgrade(req, socket, head));
  let frontPort = 0;

  before(async () => {
    alicePort = await listen(alice);
    bobPort = await listen(bob);
    frontPort = await listen(front);
  });
  after(async () => {
    for (const s of [front, alice, bob]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });
  beforeEach(() => {
    records = [];
    wakes = [];
    woken.length = 0;
    touched.length = 0;
    held = [];
    holdNext = false;
    // By default a wake starts the instance on its stored port.
    wakeResult = async (key) => {
      const r = records.find((x) => k(x) === k(key))!;
      r.observed = 'running';
      return r;
    };
  });

  const request = async (target: string | undefined, key: string | null = KEY, path = '/x') => {
    const headers: Record<string, string> = {};
    if (target !== undefined) headers[WAKE_HEADER] = target;
    if (key !== null) headers[WAKE_KEY_HEADER] = key;
    const res = await fetch(`http://127.0.0.1:${frontPort}${path}`, { headers });
    return { status: res.status, body: await res.text(), retryAfter: res.headers.get('retry-after') };
  };

  it("refuses requests without tenement's wake key, and bad or unknown targets, creating nothing", async () => {
    records = [record('notes', 'alice', alicePort, 'asleep')];
    assert.equal((await request('notes:alice', null)).status, 403);
    assert.equal((await request('notes:alice', 'wrong')).status, 403);
    assert.equal((await request('notes:alice', KEY.slice(1) + 'x')).status, 403);
    assert.equal((await request('notes:al/ice')).status, 400);
    assert.equal((await request('notes:alice:extra')).status, 400);
    const noService = await request('nope:alice');
    assert.equal(noService.status, 404);
    assert.match(noService.body, /no service nope/);
    const noInstance = await request('notes:carol');
    assert.equal(noInstance.status, 404);
    assert.match(noInstance.body, /no instance notes:carol/);
    assert.deepEqual(wakes, [], 'nothing was woken');
  });

  it('resolves a Host not in lower case itself (the lookup in Caddy is exact): wakes and forwards, counted as activity', async () => {
    records = [record('notes', 'alice', alicePort, 'asleep'), record('web', 'bob', bobPort, 'running')];
    const byHost = (host: string, key = KEY) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: frontPort, path: '/p', headers: { host, [WAKE_HEADER]: WAKE_BY_HOST, [WAKE_KEY_HEADER]: key } }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
      });
    assert.equal((await byHost('Alice.Notes.example.com', 'wrong')).status, 403);
    assert.deepEqual(await byHost('Alice.Notes.EXAMPLE.com:8443'), { status: 200, body: 'alice GET /p' });
    assert.deepEqual(wakes, ['notes:alice']);
    assert.deepEqual(await byHost('BOB.web.example.com'), { status: 200, body: 'bob GET /p' });
    assert.deepEqual(touched, ['notes:alice', 'web:bob']);
    for (const host of ['Carol.notes.example.com', 'Alice.Notes.example.org', 'A.b.c.example.com']) {
      const res = await byHost(host);
      assert.equal(res.status, 404, host);
    }
    assert.deepEqual(wakes, ['notes:alice'], 'nothing else was woken');
  });

  it('wakes a sleeping instance, then forwards the held request to it', async () => {
    records = [record('notes', 'alice', alicePort, 'asleep')];
    const res = await request('notes:alice', KEY, '/page?q=1');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'alice GET /page?q=1');
    assert.deepEqual(wakes, ['notes:alice']);
    assert.deepEqual(woken, ['notes:alice']);
  });

  it('forwards to an instance already running without waking it', async () => {
    records = [record('notes', 'alice', alicePort, 'running')];
    assert.equal((await request('notes:alice')).body, 'alice GET /x');
    assert.deepEqual(wakes, []);
  });

  it('a failed wake answers 503 with the first line of the reason and Retry-After; a status on the error is kept', async () => {
    records = [record('notes', 'alice', alicePort, 'asleep')];
    wakeResult = () => Promise.reject(new Error('notes:alice exited with code 1\nstderr: boom'));
    const failed = await request('notes:alice');
    assert.equal(failed.status, 503);
    assert.equal(failed.body, 'tenement: notes:alice exited with code 1\n');
    assert.equal(failed.retryAfter, '5');
    wakeResult = () => Promise.reject(Object.assign(new Error('port range exhausted'), { status: 507 }));
    assert.equal((await request('notes:alice')).status, 507);
  });

  it('a service target is served by a running member, waking nobody; with none running, by one woken member, the next only if it fails', async () => {
    records = [record('web', 'blue', alicePort, 'running'), record('web', 'green', bobPort, 'asleep'), record('web', 'zero', bobPort, 'asleep', 0)];
    assert.equal((await request('web')).body, 'alice GET /x');
    assert.deepEqual(wakes, [], 'a running member serves: nobody is woken');

    records = [record('web', 'blue', alicePort, 'asleep'), record('web', 'green', bobPort, 'asleep')];
    wakeResult = async (key) => {
      if (key.id === 'blue') throw new Error('blue does not start');
      return { ...records[1]!, observed: 'running' };
    };
    for (let i = 0; i < 5; i++) {
      wakes = [];
      assert.equal((await request('web')).body, 'bob GET /x');
      // Whichever is tried first, green ends up serving; blue is tried at most once.
      assert.equal(wakes.at(-1), 'web:green');
      assert.ok(wakes.length <= 2, wakes.join(','));
    }

    records = [record('web', 'blue', alicePort, 'failed'), record('web', 'zero', bobPort, 'asleep', 0)];
    wakes = [];
    const none = await request('web');
    assert.equal(none.status, 404);
    assert.match(none.body, /no instance of web takes traffic/);
    assert.deepEqual(wakes, [], 'failed members and members with weight 0 are not woken');
  });

  it('counts the instance busy while it forwards a request to it', async () => {
    const r = record('notes', 'alice', alicePort, 'running');
    records = [r];
    holdNext = true;
    const pending = request('notes:alice');
    // The request is held by the instance: forwarded, not answered yet.
    await waitFor(() => held.length > 0, { timeoutMs: 5000, what: 'the instance to receive the request' });
    assert.equal(endpoint.busy(r), true);
    held[0]!();
    assert.equal((await pending).status, 200);
    assert.equal(endpoint.busy(r), false);
  });

  it('answers a refused Upgrade request on the raw socket', async () => {
    const socket = net.connect(frontPort, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${WAKE_HEADER}: notes:alice\r\n\r\n`);
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    await once(socket, 'end');
    socket.destroy();
    assert.match(text, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(text, /tenement: wake requests are accepted from tenement's Caddy routes only\n$/);
  });
});
