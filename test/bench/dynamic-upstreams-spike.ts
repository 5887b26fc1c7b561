// Spike (issue 9): can Caddy 2.6.2's `dynamic_upstreams` replace today's route tree, so that
// spawns, deploys, weights and route swaps need no Caddy reload at all?
//
// One Caddy process, one server (listener) per variant, so that Caddy's CPU per request can be
// compared directly:
//   static    one static `reverse_proxy` route (reference)
//   map       today's design: caddy/routes.ts with N registered instances, the target host last
//   srv       one static route, `dynamic_upstreams` `srv` named from the request host, answered by
//             a DNS responder in this process (dns-packet), no gate
//   srvgate   the same behind a gate-file check named by the host (what a real design would need
//             for sleep/wake), like today's design
//   a, first, random, deaddyn, deadstatic, srv60: functional checks (see `phases` below)
// Backends are small Node processes that answer with their own name and echo upgraded
// connections (a WebSocket stand-in: after the 101 Caddy just copies bytes both ways).
//
// Run: `npm run build && node dist/test/bench/dynamic-upstreams-spike.js [phase ...]`
// Phases: works switch weights dead cache reload load cost many (default: all, in that order).
// Env: SPIKE_N (registered instances in the map design, default 1000), SPIKE_SECONDS (wrk
// seconds, default 4), SPIKE_ROUNDS (default 3), SPIKE_DNS_NET (`udp` by default; `bare`: no network prefix, which 2.6.2 dials over TCP), SPIKE_KEEP=1 (keep the temp folder with Caddy's log). Everything binds 127.0.0.1; every process it
// starts is stopped by pid at the end. Not a test: figures depend on the machine.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import dnsPacket from 'dns-packet';
import { buildManagedConfig } from '../../caddy/managed-config.js';
import { buildTenementRoute, type CaddyJson, type CaddyRoute, type RoutingState } from '../../caddy/routes.js';
import { BASELINE } from '../../caddy/features.js';
import { freePort } from '../helpers/controller-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../../src/util/wait.js';
import { bareCaddy, cpuMs, hasWrk, median, rssMb, wrk } from './measure.js';

const DOMAIN = 'tenement.test';
const N = Number(process.env.SPIKE_N ?? 1000);
const SECONDS = Number(process.env.SPIKE_SECONDS ?? 4);
const ROUNDS = Number(process.env.SPIKE_ROUNDS ?? 3);
const REFRESH_MS = 1000;
/** Hosts in use at once in phase `many` (Caddy 2.6.2 caches at most 100 lookups). */
const MANY_HOSTS = 300;
const manyId = (i: number) => `t${String(i).padStart(5, '0')}`;
/** SRV target of every upstream: an SRV record cannot carry an IP literal (Go filters it out). */
const UPSTREAM_NAME = 'up.tenement.internal';

const log = (...a: unknown[]) => console.log(...a);

// ---------------------------------------------------------------------------------------------
// DNS responder: SRV and A answers from in-memory tables, NXDOMAIN for anything else.

interface SrvRecord {
  port: number;
  weight?: number;
  priority?: number;
  /** Default UPSTREAM_NAME, which this responder resolves to 127.0.0.1 (Caddy's transport asks it too). */
  target?: string;
}

class DnsResponder {
  readonly srv = new Map<string, SrvRecord[]>();
  readonly a = new Map<string, string[]>([[UPSTREAM_NAME, ['127.0.0.1']]]);
  queries = 0;
  tcpConnections = 0;
  private udp = dgram.createSocket('udp4');
  // Caddy 2.6.2 sends its queries over TCP when the resolver address has no network prefix.
  private tcp = net.createServer((c) => this.serveTcp(c));
  port = 0;

  /** UDP and TCP on the same port (retried: a free TCP port may be taken for UDP). */
  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      this.udp = dgram.createSocket('udp4');
      this.udp.on('message', (msg, rinfo) => {
        const out = this.answer(msg);
        if (out) this.udp.send(out, rinfo.port, rinfo.address);
      });
      await new Promise<void>((resolve) => this.udp.bind(0, '127.0.0.1', resolve));
      this.port = this.udp.address().port;
      try {
        await new Promise<void>((resolve, reject) => {
          this.tcp.once('error', reject);
          this.tcp.listen(this.port, '127.0.0.1', resolve);
        });
        return;
      } catch (e) {
        this.udp.close();
        if (attempt >= 20) throw e;
      }
    }
  }

  stop(): void {
    this.udp.close();
    this.tcp.close();
  }

  private serveTcp(c: net.Socket): void {
    this.tcpConnections++;
    let buf = Buffer.alloc(0);
    c.on('error', () => {});
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const out = this.answer(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        if (out) {
          const head = Buffer.alloc(2);
          head.writeUInt16BE(out.length);
          c.write(Buffer.concat([head, out]));
        }
      }
    });
  }

  private answer(msg: Buffer): Buffer | undefined {
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    this.queries++;
    const answers: dnsPacket.Answer[] = [];
    let known = false;
    for (const question of q.questions ?? []) {
      const name = question.name.toLowerCase().replace(/\.$/, '');
      if (question.type === 'SRV' && this.srv.has(name)) {
        known = true;
        for (const r of this.srv.get(name)!) {
          answers.push({
            type: 'SRV',
            name: question.name,
            ttl: 0,
            data: { port: r.port, weight: r.weight ?? 1, priority: r.priority ?? 0, target: r.target ?? `${UPSTREAM_NAME}.` },
          });
        }
      } else if ((question.type === 'A' || question.type === 'AAAA') && this.a.has(name)) {
        known = true; // AAAA: known name, no records
        if (question.type === 'A') for (const ip of this.a.get(name)!) answers.push({ type: 'A', name: question.name, ttl: 0, data: ip });
      }
    }
    const NXDOMAIN = 3;
    return dnsPacket.encode({
      type: 'response',
      id: q.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | (known ? 0 : NXDOMAIN),
      questions: q.questions ?? [],
      answers,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Backends: child processes answering with their name; upgraded connections echo bytes.

const BACKEND = `
const http = require('node:http');
const name = process.env.NAME;
const server = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => (n += c.length));
  req.on('end', () => { res.setHeader('x-backend', name); res.end(name + ' ' + n + '\\n'); });
});
server.on('upgrade', (req, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n');
  socket.on('data', (d) => socket.write(name + ':' + d));
  socket.on('error', () => {});
});
server.keepAliveTimeout = 30000;
process.on('SIGTERM', () => { server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 5000).unref(); });
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
`;

interface Backend {
  name: string;
  port: number;
  child: ChildProcess;
}

const launched = new Set<ChildProcess>();

async function startBackend(name: string): Promise<Backend> {
  const port = await freePort();
  const child = spawn(process.execPath, ['-e', BACKEND], { env: { ...process.env, NAME: name, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  launched.add(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`backend ${name} exited (${c})`)));
  });
  return { name, port, child };
}

/** SIGTERM: the backend closes its listener, finishes in-flight requests, then exits. */
async function stopBackend(b: Backend): Promise<void> {
  if (b.child.exitCode !== null || b.child.signalCode !== null) return;
  const gone = new Promise<void>((r) => b.child.once('exit', () => r()));
  process.kill(b.child.pid!, 'SIGTERM');
  await gone;
  launched.delete(b.child);
}

// ---------------------------------------------------------------------------------------------
// Caddy config

const directTransport: CaddyJson = {
  protocol: 'http',
  keep_alive: { enabled: true, probe_interval: '30s', idle_timeout: '2s', max_idle_conns_per_host: 32 },
};

/**
 * Resolver address as Caddy is given it: `udp/127.0.0.1:port`. Caddy 2.6.2 dials a bare
 * `127.0.0.1:port` over TCP, a new connection per query (SPIKE_DNS_NET=bare to see it).
 */
const DNS_NET = process.env.SPIKE_DNS_NET ?? 'udp';
const dnsAddr = (port: number) => `${DNS_NET === 'bare' ? '' : `${DNS_NET}/`}127.0.0.1:${port}`;

function srvSource(dnsPort: number, refresh: string): CaddyJson {
  return { source: 'srv', service: 't', proto: 'tcp', name: '{http.request.host}', refresh, resolver: { addresses: [dnsAddr(dnsPort)] } };
}

/** `dnsPort`: the transport resolves SRV targets through it (else through the system resolver). */
function dynProxy(source: CaddyJson, dnsPort: number | undefined, policy = 'round_robin', extra: CaddyJson = {}): CaddyJson {
  return {
    handler: 'reverse_proxy',
    dynamic_upstreams: source,
    transport: dnsPort ? { ...directTransport, resolver: { addresses: [dnsAddr(dnsPort)] } } : directTransport,
    load_balancing: { selection_policy: { policy }, try_duration: '3s', try_interval: '100ms' },
    ...extra,
  };
}

const server = (port: number, routes: CaddyRoute[] | CaddyJson[]): CaddyJson => ({ listen: [`127.0.0.1:${port}`], automatic_https: { disable: true }, routes });

interface Ports {
  admin: number;
  static: number;
  map: number;
  srv: number;
  srvsys: number;
  srvgate: number;
  srv60: number;
  a: number;
  first: number;
  random: number;
  deaddyn: number;
  deadstatic: number;
}

interface Setup {
  dir: string;
  dns: DnsResponder;
  ports: Ports;
  app: Backend;
  dead: number;
  /** Port of the instance `zzz` in the map design (changed by a "deploy" under today's design). */
  mapDial: number;
}

function mapState(s: Setup): RoutingState {
  return {
    domain: DOMAIN,
    services: [{ name: 'api', health: '/health', healthIntervalSec: 10, requestTimeoutSec: 30 }],
    instances: [
      // The first MANY_HOSTS instances are served by the app (phase `many`); the others have no listener.
      ...Array.from({ length: N - 1 }, (_, i) => ({ service: 'api', id: manyId(i), port: i < MANY_HOSTS ? s.app.port : 40000 + (i % 20000), weight: 0 })),
      { service: 'api', id: 'zzz', port: s.mapDial, weight: 100 },
    ],
    routing: { default: undefined, subdomain: {}, path: {} },
    controllerDial: '127.0.0.1:1',
    gateDir: path.join(s.dir, 'gates'),
    wakeKey: 'spike',
    features: BASELINE,
  };
}

function buildConfig(s: Setup): CaddyJson {
  const p = s.ports;
  const gates = path.join(s.dir, 'gates');
  const config = buildManagedConfig({
    adminListen: `127.0.0.1:${p.admin}`,
    httpListen: [`127.0.0.1:${p.map}`],
    accessLogFile: undefined,
    gracePeriodSec: 5,
    route: buildTenementRoute(mapState(s)),
  }) as { apps: { http: { servers: Record<string, unknown> } } };
  const servers = config.apps.http.servers;
  const wake: CaddyJson = { handler: 'reverse_proxy', upstreams: [{ dial: '127.0.0.1:1' }] };
  const src = (refresh = `${REFRESH_MS}ms`) => srvSource(s.dns.port, refresh);
  const passive = { health_checks: { passive: { fail_duration: '5s', max_fails: 1 } } };
  servers.static = server(p.static, [{ handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: `127.0.0.1:${s.app.port}` }], transport: directTransport }] }]);
  const d = s.dns.port;
  servers.srv = server(p.srv, [{ handle: [dynProxy(src(), d)] }]);
  servers.srvsys = server(p.srvsys, [{ handle: [dynProxy(src(), undefined)] }]);
  servers.srvgate = server(p.srvgate, [
    { match: [{ host: [`*.*.${DOMAIN}`], file: { root: gates, try_files: ['/{http.request.host}'] } }], handle: [wake], terminal: true },
    { match: [{ host: [`*.*.${DOMAIN}`] }], handle: [dynProxy(src(), d)], terminal: true },
  ]);
  servers.srv60 = server(p.srv60, [{ handle: [dynProxy(src('60s'), d)] }]);
  servers.a = server(p.a, [
    {
      handle: [
        dynProxy({ source: 'a', name: '{http.request.host}', port: '{http.request.header.X-Port}', refresh: `${REFRESH_MS}ms`, resolver: { addresses: [dnsAddr(s.dns.port)] } }, d),
      ],
    },
  ]);
  servers.first = server(p.first, [{ handle: [dynProxy(src(), d, 'first')] }]);
  servers.random = server(p.random, [{ handle: [dynProxy(src(), d, 'random')] }]);
  servers.deaddyn = server(p.deaddyn, [{ handle: [dynProxy(src(), d, 'round_robin', passive)] }]);
  servers.deadstatic = server(p.deadstatic, [
    {
      handle: [
        {
          handler: 'reverse_proxy',
          upstreams: [{ dial: `127.0.0.1:${s.dead}` }, { dial: `127.0.0.1:${s.app.port}` }],
          transport: directTransport,
          load_balancing: { selection_policy: { policy: 'round_robin' }, try_duration: '3s', try_interval: '100ms' },
          ...passive,
        },
      ],
    },
  ]);
  return config;
}

async function loadConfig(s: Setup, config: CaddyJson): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${s.ports.admin}/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) });
  if (!res.ok) throw new Error(`/load: ${res.status} ${await res.text()}`);
}

// ---------------------------------------------------------------------------------------------
// Clients

interface Reply {
  status: number;
  body: string;
  socket?: net.Socket | undefined;
}

function request(port: number, host: string, opts: { agent?: http.Agent; method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', method: opts.method ?? 'GET', agent: opts.agent ?? false, headers: { host, ...opts.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim(), socket: req.socket ?? undefined }));
      res.on('error', (e) => resolve({ status: 0, body: String(e) }));
    });
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(opts.body);
  });
}

const backendOf = (r: Reply) => (r.status === 200 ? r.body.split(' ')[0]! : `${r.status}`);

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/**
 * `concurrency` keep-alive clients until `stop` resolves, each alternating a GET and a POST with a
 * 1 KB body (Caddy 2.6.2 cannot retry a request with a body); failures are non-200s and errors.
 */
async function loadLoop(
  port: number,
  host: string,
  concurrency: number,
  stop: Promise<void>,
): Promise<{ total: number; failed: number; by: Record<string, number>; failures: string[]; maxMs: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let done = false;
  void stop.then(() => (done = true));
  const seen: string[] = [];
  const failures: string[] = [];
  let maxMs = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; !done; i++) {
        const t0 = performance.now();
        const r = await request(port, host, i % 2 ? { agent, method: 'POST', body: 'x'.repeat(1024), headers: { 'content-type': 'text/plain' } } : { agent });
        maxMs = Math.max(maxMs, performance.now() - t0);
        seen.push(backendOf(r));
        if (r.status !== 200) failures.push(`${i % 2 ? 'POST' : 'GET'} ${r.status} ${r.body.slice(0, 100)}`);
      }
    }),
  );
  agent.destroy();
  return { total: seen.length, failed: failures.length, by: countBy(seen), failures: [...new Set(failures)].slice(0, 4), maxMs };
}

/** An upgraded connection through Caddy (raw bytes after the 101; Caddy copies them both ways). */
function upgrade(port: number, host: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/ws', agent: false, headers: { host, connection: 'Upgrade', upgrade: 'websocket' } });
    req.on('upgrade', (_res, socket) => resolve(socket));
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Sends a line on an upgraded socket; resolves with the echo, or with 'closed'/'no echo'. */
function echo(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    if (socket.destroyed || !socket.writable) return resolve('closed');
    const t = setTimeout(() => done('no echo'), 2000);
    // 0x88: a WebSocket close frame, which Caddy 2.6 sends on the hijacked connections it closes at a reload.
    const onData = (d: Buffer) => done(d[0] === 0x88 ? 'close frame' : d.toString());
    const onClose = () => done('closed');
    function done(v: string) {
      clearTimeout(t);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(v);
    }
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.write(text);
  });
}

// ---------------------------------------------------------------------------------------------
// Phases

const srvName = (host: string) => `_t._tcp.${host}`;

async function phaseWorks(s: Setup): Promise<void> {
  log('\n## works: does dynamic_upstreams work at all on this Caddy?');
  const h = `works.api.${DOMAIN}`;
  s.dns.srv.set(srvName(h), [{ port: s.app.port }]);
  s.dns.srv.set(srvName(`sys.api.${DOMAIN}`), [{ port: s.app.port, target: 'localhost.' }]);
  let r = await request(s.ports.srvsys, `sys.api.${DOMAIN}`);
  log(`srv, target localhost., system resolver   -> ${r.status} ${r.body}`);
  r = await request(s.ports.srv, h);
  log(`srv, target ${UPSTREAM_NAME}. via transport.resolver -> ${r.status} ${r.body}`);
  const h2 = `literal.api.${DOMAIN}`;
  s.dns.srv.set(srvName(h2), [{ port: s.app.port, target: '127.0.0.1.' }]);
  r = await request(s.ports.srv, h2);
  log(`srv, target 127.0.0.1 (IP literal)        -> ${r.status} ${r.body.slice(0, 100)}`);
  const h3 = `unknown.api.${DOMAIN}`;
  r = await request(s.ports.srv, h3);
  log(`srv, NXDOMAIN                              -> ${r.status} ${r.body.slice(0, 100)}`);
  const h4 = `named.api.${DOMAIN}`;
  s.dns.srv.set(srvName(h4), [{ port: s.app.port, target: 'nosuchname.invalid.' }]);
  r = await request(s.ports.srv, h4);
  log(`srv, target a name no resolver knows       -> ${r.status} ${r.body.slice(0, 100)}`);
  s.dns.a.set(h, ['127.0.0.1']);
  r = await request(s.ports.a, h, { headers: { 'x-port': String(s.app.port) } });
  log(`a, port from a placeholder (X-Port header) -> ${r.status} ${r.body.slice(0, 100)}`);
  const q0 = s.dns.queries;
  for (let i = 0; i < 20; i++) await request(s.ports.srv, h);
  log(`20 more requests within refresh: ${s.dns.queries - q0} DNS queries`);
}

/** How long after a DNS change Caddy uses the new port (polling every 10 ms, one client). */
async function phaseSwitch(s: Setup, b: Backend): Promise<void> {
  log(`\n## switch: time from a DNS change until Caddy uses the new port (refresh ${REFRESH_MS} ms)`);
  const h = `switch.api.${DOMAIN}`;
  const [x, y] = [s.app, b];
  s.dns.srv.set(srvName(h), [{ port: x.port }]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let cur = x;
  for (let i = 0; i < 6; i++) {
    await request(s.ports.srv, h, { agent });
    const next = cur === x ? y : x;
    s.dns.srv.set(srvName(h), [{ port: next.port }]);
    const t0 = performance.now();
    for (;;) {
      const r = await request(s.ports.srv, h, { agent });
      if (backendOf(r) === next.name) break;
      if (performance.now() - t0 > 5 * REFRESH_MS + 5000) throw new Error('switch never happened');
      await sleep(10);
    }
    times.push(performance.now() - t0);
    cur = next;
    await sleep(Math.random() * REFRESH_MS);
  }
  agent.destroy();
  log(`switch delays (ms): ${times.map((t) => t.toFixed(0)).join(', ')}; median ${median(times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}`);
}

async function phaseWeights(s: Setup, b: Backend): Promise<void> {
  log('\n## weights: how requests spread over SRV answers (400 GETs each, one at a time)');
  const A = s.app;
  const cases: { label: string; port: number; records: SrvRecord[] }[] = [
    {
      label: 'round_robin, SRV weights 3:1',
      port: s.ports.srv,
      records: [
        { port: A.port, weight: 3 },
        { port: b.port, weight: 1 },
      ],
    },
    { label: 'round_robin, records A,A,A,B (duplicates)', port: s.ports.srv, records: [{ port: A.port }, { port: A.port }, { port: A.port }, { port: b.port }] },
    { label: 'random, records A,A,A,B', port: s.ports.random, records: [{ port: A.port }, { port: A.port }, { port: A.port }, { port: b.port }] },
    {
      label: 'first, SRV weights 3:1 (one lookup per refresh)',
      port: s.ports.first,
      records: [
        { port: A.port, weight: 3 },
        { port: b.port, weight: 1 },
      ],
    },
  ];
  for (const [i, c] of cases.entries()) {
    const h = `w${i}.api.${DOMAIN}`;
    s.dns.srv.set(srvName(h), c.records);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const seen: string[] = [];
    const perWindow: string[] = [];
    const t0 = performance.now();
    for (let n = 0; n < 400; n++) {
      seen.push(backendOf(await request(c.port, h, { agent })));
      // `first` keeps one upstream per cached lookup: sample across refresh windows.
      if (c.label.startsWith('first')) {
        await sleep(REFRESH_MS / 40);
        if (n % 40 === 39) perWindow.push(seen.at(-1)!);
      }
    }
    agent.destroy();
    const by = countBy(seen);
    log(
      `${c.label}: ${JSON.stringify(by)} (A share ${((by[A.name] ?? 0) / seen.length).toFixed(2)})${perWindow.length ? `; last pick per window: ${perWindow.join('')}` : ''} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
}

/** One SRV record points at a closed port: do passive health checks leave it out, and do bodies survive? */
async function phaseDead(s: Setup): Promise<void> {
  log('\n## dead: one of two upstreams has no listener (round_robin, passive health 1 fail -> out 5 s)');
  const h = `dead.api.${DOMAIN}`;
  s.dns.srv.set(srvName(h), [{ port: s.dead }, { port: s.app.port }]);
  for (const [label, port] of [
    ['dynamic (srv)', s.ports.deaddyn],
    ['static upstreams', s.ports.deadstatic],
  ] as const) {
    const get: string[] = [];
    const post: string[] = [];
    for (let i = 0; i < 40; i++) get.push(backendOf(await request(port, h)));
    for (let i = 0; i < 40; i++) post.push(backendOf(await request(port, h, { method: 'POST', body: 'x'.repeat(1000), headers: { 'content-type': 'text/plain' } })));
    log(`${label}: 40 GETs ${JSON.stringify(countBy(get))}, then 40 POSTs with a body ${JSON.stringify(countBy(post))}`);
  }
}

/** The srv cache: how many DNS queries per request when many hosts are in use. */
async function phaseCache(s: Setup): Promise<void> {
  log('\n## cache: DNS queries when cycling over many hosts (refresh 60 s, so every query is a cache miss)');
  for (const hosts of [50, 99, 150, 300]) {
    const names = Array.from({ length: hosts }, (_, i) => `c${hosts}-${i}.api.${DOMAIN}`);
    for (const h of names) s.dns.srv.set(srvName(h), [{ port: s.app.port }]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    for (const h of names) await request(s.ports.srv60, h, { agent }); // first round fills the cache
    const q0 = s.dns.queries;
    let failed = 0;
    const rounds = 3;
    for (let r = 0; r < rounds; r++) {
      for (const h of names) if ((await request(s.ports.srv60, h, { agent })).status !== 200) failed++;
    }
    agent.destroy();
    log(`${hosts} hosts: ${((s.dns.queries - q0) / (rounds * hosts)).toFixed(2)} DNS queries per request after warm-up (${failed} failed)`);
  }
}

/** Does a "deploy" keep the keep-alive connections and an upgraded connection of a client? */
async function phaseReload(s: Setup, b: Backend): Promise<void> {
  log('\n## reload: keep-alive connections and a WebSocket across one deploy');
  const h = `ws.api.${DOMAIN}`;
  const mapHost = `zzz.api.${DOMAIN}`;
  for (const design of ['dynamic (DNS change)', "today's (one /load)"] as const) {
    const dyn = design.startsWith('dynamic');
    const port = dyn ? s.ports.srv : s.ports.map;
    const host = dyn ? h : mapHost;
    // Start on the app, deploy to b.
    s.dns.srv.set(srvName(h), [{ port: s.app.port }]);
    if (!dyn) {
      s.mapDial = s.app.port;
      await loadConfig(s, buildConfig(s));
    }
    await sleep(REFRESH_MS + 200);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const sockets = new Set<net.Socket>();
    const before = await Promise.all(Array.from({ length: 8 }, () => request(port, host, { agent })));
    before.forEach((r) => r.socket && sockets.add(r.socket));
    const ws = await upgrade(port, host);
    const e0 = await echo(ws, 'hello');
    // Also a WebSocket of another tenant, on the static route of the same Caddy.
    const other = await upgrade(s.ports.static, 'other.example');
    const t0 = performance.now();
    if (dyn) s.dns.srv.set(srvName(h), [{ port: b.port }]);
    else {
      s.mapDial = b.port;
      await loadConfig(s, buildConfig(s));
    }
    const deployMs = performance.now() - t0;
    await sleep(REFRESH_MS + 300);
    const after = await Promise.all(Array.from({ length: 8 }, () => request(port, host, { agent })));
    const reused = after.filter((r) => r.socket && sockets.has(r.socket)).length;
    const e1 = await echo(ws, 'again');
    const e2 = await echo(other, 'other');
    log(
      `${design}: change took ${deployMs.toFixed(0)} ms; 8 keep-alive requests after it: ${after.filter((r) => r.status === 200).length} ok, ` +
        `${reused}/8 on the same connections, now served by ${JSON.stringify(countBy(after.map(backendOf)))}; ` +
        `this tenant's WebSocket: before "${e0.trim()}", after "${e1.trim()}"; another tenant's WebSocket after: "${e2.trim()}"`,
    );
    ws.destroy();
    other.destroy();
    agent.destroy();
  }
  s.mapDial = s.app.port;
  await loadConfig(s, buildConfig(s));
}

/** Failed requests under load while deploys happen: a DNS flip vs today's /load. */
async function phaseLoad(s: Setup): Promise<void> {
  log('\n## load: 8 keep-alive clients (GET and POST alternately), 10 deploys (start new backend, switch, stop the old one gracefully)');
  const h = `load.api.${DOMAIN}`;
  const mapHost = `zzz.api.${DOMAIN}`;
  // Flip between two live backends every 300 ms, nothing stopped: only the switching itself.
  {
    const b1 = await startBackend('F1');
    const b2 = await startBackend('F2');
    s.dns.srv.set(srvName(h), [{ port: b1.port }]);
    let stopNow!: () => void;
    const stop = new Promise<void>((r) => (stopNow = r));
    const run = loadLoop(s.ports.srv, h, 8, stop);
    for (let i = 0; i < 20; i++) {
      await sleep(300);
      s.dns.srv.set(srvName(h), [{ port: (i % 2 ? b1 : b2).port }]);
    }
    stopNow();
    const res = await run;
    log(
      `dynamic, flips between two live backends every 300 ms for 6 s: ${res.failed}/${res.total} failed, slowest ${res.maxMs.toFixed(0)} ms; ${JSON.stringify(res.by)} ${res.failures.join(' | ')}`,
    );
    await stopBackend(b1);
    await stopBackend(b2);
  }
  for (const [label, dyn, waitMs] of [
    ['dynamic, old stopped refresh + 300 ms after the DNS change', true, REFRESH_MS + 300],
    ['dynamic, old stopped 100 ms after the DNS change (too early)', true, 100],
    ["today's design, one /load per deploy, old stopped 300 ms after", false, 300],
  ] as const) {
    let cur = await startBackend('D0');
    if (dyn) s.dns.srv.set(srvName(h), [{ port: cur.port }]);
    else {
      s.mapDial = cur.port;
      await loadConfig(s, buildConfig(s));
    }
    await sleep(REFRESH_MS + 200);
    let stopNow!: () => void;
    const stop = new Promise<void>((r) => (stopNow = r));
    const run = loadLoop(dyn ? s.ports.srv : s.ports.map, dyn ? h : mapHost, 8, stop);
    for (let i = 1; i <= 10; i++) {
      await sleep(200);
      const next = await startBackend(`D${i}`);
      if (dyn) s.dns.srv.set(srvName(h), [{ port: next.port }]);
      else {
        s.mapDial = next.port;
        await loadConfig(s, buildConfig(s));
      }
      await sleep(waitMs);
      await stopBackend(cur);
      cur = next;
    }
    await sleep(300);
    stopNow();
    const res = await run;
    log(`${label}: ${res.failed}/${res.total} failed, slowest ${res.maxMs.toFixed(0)} ms ${res.failures.join(' | ')}`);
    await stopBackend(cur);
  }
  s.mapDial = s.app.port;
  await loadConfig(s, buildConfig(s));
}

/** Per-request cost: wrk through each variant, alternating, Caddy's CPU per request. */
async function phaseCost(s: Setup, caddyPid: number): Promise<void> {
  log(`\n## cost: wrk -t1 -c8 -d${SECONDS}s, ${ROUNDS} alternating rounds (medians); map design with ${N} registered, target last`);
  if (!hasWrk()) return log('wrk not installed: skipped');
  const h = `zzz.api.${DOMAIN}`;
  s.dns.srv.set(srvName(h), [{ port: s.app.port }]);
  const variants = [
    ['static route', s.ports.static],
    ["today's map design", s.ports.map],
    ['dynamic srv, no gate', s.ports.srv],
    ['dynamic srv + gate file', s.ports.srvgate],
  ] as const;
  const res = new Map<string, { rps: number[]; cpu: number[] }>(variants.map(([l]) => [l, { rps: [], cpu: [] }]));
  const q0 = s.dns.queries;
  const t0 = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [label, port] of r % 2 ? [...variants].reverse() : variants) {
      const w = await wrk(`http://127.0.0.1:${port}/`, h, { seconds: SECONDS, pid: caddyPid });
      if (w.errors > 0) log(`  ${label}: ${w.errors} errors`);
      res.get(label)!.rps.push(w.rps);
      res.get(label)!.cpu.push(w.cpuUsPerReq);
    }
  }
  const dnsPerSec = (s.dns.queries - q0) / ((performance.now() - t0) / 1000);
  const st = res.get('static route')!;
  log('| variant | req/s | / static | Caddy CPU per request | / static |');
  log('|---|---|---|---|---|');
  for (const [label] of variants) {
    const v = res.get(label)!;
    log(
      `| ${label} | ${median(v.rps).toFixed(0)} | ${(median(v.rps) / median(st.rps)).toFixed(2)} | ${median(v.cpu).toFixed(0)} us | ${(median(v.cpu) / median(st.cpu)).toFixed(2)} |`,
    );
  }
  log(`(runs: ${[...res].map(([l, v]) => `${l}: ${v.rps.map((x) => x.toFixed(0)).join('/')} req/s, ${v.cpu.map((x) => x.toFixed(0)).join('/')} us`).join('; ')})`);
  log(`DNS queries during the runs: ${dnsPerSec.toFixed(1)}/s; Caddy RSS now ${rssMb(caddyPid).toFixed(0)} MB`);
}

/** Cost with many hosts in use at once: 8 keep-alive clients cycling over MANY_HOSTS hosts. */
async function phaseMany(s: Setup, caddyPid: number): Promise<void> {
  const hosts = Array.from({ length: Math.min(MANY_HOSTS, N - 1) }, (_, i) => `${manyId(i)}.api.${DOMAIN}`);
  log(`\n## many: 8 keep-alive clients cycling over ${hosts.length} hosts, ${SECONDS} s, ${ROUNDS} alternating rounds (Node client, so req/s is lower than wrk's)`);
  for (const h of hosts) s.dns.srv.set(srvName(h), [{ port: s.app.port }]);
  const variants = [
    ["today's map design", s.ports.map],
    ['dynamic srv + gate file', s.ports.srvgate],
  ] as const;
  const res = new Map<string, { rps: number[]; cpu: number[]; dns: number[] }>(variants.map(([l]) => [l, { rps: [], cpu: [], dns: [] }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [label, port] of r % 2 ? [...variants].reverse() : variants) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
      const end = performance.now() + SECONDS * 1000;
      let next = 0;
      let n = 0;
      let failed = 0;
      const c0 = cpuMs(caddyPid);
      const q0 = s.dns.queries;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (performance.now() < end) {
            const rep = await request(port, hosts[next++ % hosts.length]!, { agent });
            n++;
            if (rep.status !== 200) failed++;
          }
        }),
      );
      const secs = (performance.now() - t0) / 1000;
      agent.destroy();
      if (failed) log(`  ${label}: ${failed} failed`);
      const v = res.get(label)!;
      v.rps.push(n / secs);
      v.cpu.push(((cpuMs(caddyPid) - c0) * 1000) / n);
      v.dns.push((s.dns.queries - q0) / n);
    }
  }
  for (const [label] of variants) {
    const v = res.get(label)!;
    log(
      `${label}: ${median(v.rps).toFixed(0)} req/s, Caddy ${median(v.cpu).toFixed(0)} us per request, ${median(v.dns).toFixed(2)} DNS queries per request (runs ${v.cpu.map((x) => x.toFixed(0)).join('/')} us)`,
    );
  }
  log(`DNS connections (TCP) so far: ${s.dns.tcpConnections}`);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const all = ['works', 'switch', 'weights', 'dead', 'cache', 'reload', 'load', 'cost', 'many'];
  const phases = process.argv.slice(2).length ? process.argv.slice(2) : all;
  const { dir, cleanup } = tempDir('tenement-dyn-spike-');
  fs.mkdirSync(path.join(dir, 'gates'));
  const dns = new DnsResponder();
  let caddy: Awaited<ReturnType<typeof bareCaddy>> | undefined;
  try {
    await dns.start();
    const app = await startBackend('A');
    const b = await startBackend('B');
    const names = ['admin', 'static', 'map', 'srv', 'srvsys', 'srvgate', 'srv60', 'a', 'first', 'random', 'deaddyn', 'deadstatic'] as const;
    const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const))) as unknown as Ports;
    // A port with no listener (freePort closed it again).
    const s: Setup = { dir, dns, ports, app, dead: await freePort(), mapDial: app.port };
    caddy = await bareCaddy(path.join(dir, 'caddy'), buildConfig(s), `http://127.0.0.1:${ports.static}/`);
    const c = caddy;
    log(`Caddy ${c.pid} (caddy version: see \`caddy version\`), DNS responder on 127.0.0.1:${dns.port}, backends A:${app.port} B:${b.port}, map design with ${N} registered`);
    log(`load average at start: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}; Caddy CPU so far ${cpuMs(c.pid).toFixed(0)} ms`);
    await waitFor(async () => (await request(ports.map, `zzz.api.${DOMAIN}`)).status === 200, { timeoutMs: 10_000, what: 'map route' });
    for (const p of phases) {
      if (p === 'works') await phaseWorks(s);
      else if (p === 'switch') await phaseSwitch(s, b);
      else if (p === 'weights') await phaseWeights(s, b);
      else if (p === 'dead') await phaseDead(s);
      else if (p === 'cache') await phaseCache(s);
      else if (p === 'reload') await phaseReload(s, b);
      else if (p === 'load') await phaseLoad(s);
      else if (p === 'cost') await phaseCost(s, c.pid);
      else if (p === 'many') await phaseMany(s, c.pid);
      else throw new Error(`unknown phase ${p} (known: ${all.join(' ')})`);
    }
    log(`\nload average at end: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    const errors = fs
      .readFileSync(path.join(dir, 'caddy', 'caddy.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"error"'))
      .map((l) => /"msg":"([^"]*)".*?"error":"([^"]{0,140})/.exec(l)?.slice(1).join(': ') ?? '');
    log(`Caddy error log lines by message: ${JSON.stringify(countBy(errors))}`);
  } finally {
    await caddy?.stop();
    for (const child of launched) if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    dns.stop();
    if (process.env.SPIKE_KEEP) log(`kept ${dir}`);
    else cleanup();
  }
}

await main();
