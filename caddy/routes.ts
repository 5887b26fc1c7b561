// Caddy routes as a pure function of tenement's state. Everything tenement owns in Caddy's config
// is one route with `@id` TENEMENT_ROUTE_ID, replaced whole in one admin call (one reload).
//
// Sleeping and waking never change this config. Each instance route first checks a *gate file*
// (`file` matcher: a stat per request, no caching, present since Caddy 2.0): while the file
// exists (instance asleep, starting or restarting) the request goes to the controller's wake
// endpoint, which starts the instance and forwards the request; once the instance is healthy the
// controller deletes the file and requests go straight to the instance again.
import { repeatedUpstreams, reduceWeights } from './weights.js';
import type { CaddyFeatures } from './features.js';

export const TENEMENT_ROUTE_ID = 'tenement';
export const WAKE_HEADER = 'X-Tenement-Wake';
export const WAKE_KEY_HEADER = 'X-Tenement-Wake-Key';

export type CaddyJson = Record<string, unknown>;

export interface CaddyRoute {
  '@id'?: string;
  group?: string;
  match?: CaddyJson[];
  handle: CaddyJson[];
  terminal?: boolean;
}

export interface RouteInstance {
  service: string;
  id: string;
  port: number;
  weight: number;
}

export interface RouteService {
  name: string;
  /** Health path, for Caddy's active health checks on the service route. */
  health: string | undefined;
  healthIntervalSec: number;
  requestTimeoutSec: number;
}

export interface RoutingRules {
  default: string | undefined;
  subdomain: Record<string, string>;
  path: Record<string, string>;
}

export interface RoutingState {
  domain: string;
  services: RouteService[];
  instances: RouteInstance[];
  routing: RoutingRules;
  /** host:port of the controller's listener (API, /health, wake endpoint). */
  controllerDial: string;
  /** Folder of gate files, as Caddy sees it. */
  gateDir: string;
  /** Shared secret the wake endpoint requires, so only Caddy can ask it to wake instances. */
  wakeKey: string;
  features: CaddyFeatures;
}

/** Gate file name of an instance, relative to gateDir. Service and id are DNS labels: no '.' or '/'. */
export function gateFileName(service: string, id: string): string {
  return `${service}.${id}`;
}

export function instanceHost(domain: string, service: string, id: string): string {
  return `${id}.${service}.${domain}`;
}

export function serviceHost(domain: string, service: string): string {
  return `${service}.${domain}`;
}

const dial = (port: number) => `127.0.0.1:${port}`;

function notFound(body: string): CaddyJson {
  return { handler: 'static_response', status_code: 404, body, headers: { 'Content-Type': ['text/plain; charset=utf-8'] } };
}

function unavailable(body: string): CaddyJson {
  return { handler: 'static_response', status_code: 503, body, headers: { 'Content-Type': ['text/plain; charset=utf-8'], 'Retry-After': ['5'] } };
}

/** Proxies to the controller's wake endpoint, naming the target (`svc:id` or `svc`). */
function wakeProxy(state: RoutingState, target: string, timeoutSec: number): CaddyJson {
  return {
    handler: 'reverse_proxy',
    upstreams: [{ dial: state.controllerDial }],
    headers: { request: { set: { [WAKE_HEADER]: [target], [WAKE_KEY_HEADER]: [state.wakeKey] } } },
    transport: { protocol: 'http', response_header_timeout: `${timeoutSec + 30}s` },
  };
}

function gated(state: RoutingState, gateFiles: string[], target: string, timeoutSec: number, direct: CaddyJson): CaddyJson {
  const routes: CaddyRoute[] = [];
  if (gateFiles.length > 0) {
    routes.push({
      match: [{ file: { root: state.gateDir, try_files: gateFiles.map((f) => `/${f}`) } }],
      handle: [wakeProxy(state, target, timeoutSec)],
      terminal: true,
    });
  }
  routes.push({ handle: [direct] });
  return { handler: 'subroute', routes };
}

function proxy(state: RoutingState, upstreams: CaddyJson[], extra: CaddyJson = {}): CaddyJson {
  return {
    handler: 'reverse_proxy',
    upstreams,
    ...(state.features.streamCloseDelay ? { stream_close_delay: '5m' } : {}),
    ...extra,
  };
}

function instanceHandler(state: RoutingState, inst: RouteInstance, service: RouteService): CaddyJson {
  const direct = proxy(state, [{ dial: dial(inst.port) }], {
    // A GET that finds the port closed (crash before the gate is set) is retried, and by then
    // usually lands on the restarted process.
    load_balancing: { try_duration: '3s', try_interval: '100ms' },
  });
  return gated(state, [gateFileName(inst.service, inst.id)], `${inst.service}:${inst.id}`, service.requestTimeoutSec, direct);
}

function serviceHandler(state: RoutingState, service: RouteService): CaddyJson {
  const members = state.instances.filter((i) => i.service === service.name && i.weight > 0);
  if (members.length === 0) return unavailable(`no instance of ${service.name} takes traffic (weights are all 0, or none is spawned)`);
  const weighted = members.map((m) => ({ dial: dial(m.port), weight: m.weight }));
  let upstreams: CaddyJson[];
  let selection: CaddyJson;
  if (state.features.weightedRoundRobin) {
    const reduced = reduceWeights(weighted);
    upstreams = reduced.map((r) => ({ dial: r.dial }));
    selection = { policy: 'weighted_round_robin', weights: reduced.map((r) => r.weight) };
  } else {
    upstreams = repeatedUpstreams(weighted).map((d) => ({ dial: d }));
    selection = { policy: 'round_robin' };
  }
  const direct = proxy(state, upstreams, {
    load_balancing: { selection_policy: selection, try_duration: '3s', try_interval: '100ms' },
    ...(service.health
      ? {
          health_checks: {
            // On 2.6 one failed probe takes an upstream out until the next passing one (no
            // `fails` threshold): a generous timeout keeps a briefly slow app from being dropped.
            active: { uri: service.health, interval: `${service.healthIntervalSec}s`, timeout: '5s' },
          },
        }
      : {}),
  });
  // Any weighted member asleep: the controller wakes it and spreads traffic meanwhile.
  const gates = members.map((m) => gateFileName(m.service, m.id));
  return gated(state, gates, service.name, service.requestTimeoutSec, direct);
}

function apiHandler(state: RoutingState): CaddyJson {
  return proxy(state, [{ dial: state.controllerDial }], {
    // Only Caddy may set these; a client sending them through the API route must not reach the wake endpoint.
    headers: { request: { delete: [WAKE_HEADER, WAKE_KEY_HEADER] } },
    health_checks: { active: { uri: '/health', interval: '2s', timeout: '2s' } },
    load_balancing: { try_duration: '5s', try_interval: '100ms' },
  });
}

function hostRoute(hosts: string[], handler: CaddyJson, extraMatch: CaddyJson = {}): CaddyRoute {
  return { match: [{ host: hosts, ...extraMatch }], handle: [handler], terminal: true };
}

function pathMatchers(prefix: string): string[] {
  const p = prefix.replace(/\/+$/, '');
  return p === '' ? ['/*'] : [p, `${p}/*`];
}

/** Every route tenement serves, as one route object to PATCH at /id/tenement. */
export function buildTenementRoute(state: RoutingState): CaddyRoute {
  const d = state.domain;
  const services = new Map(state.services.map((s) => [s.name, s]));
  const routes: CaddyRoute[] = [];

  // Root-domain path overrides first: they are more specific than the root domain itself.
  for (const [prefix, name] of Object.entries(state.routing.path).sort(([a], [b]) => b.length - a.length)) {
    const svc = services.get(name);
    if (svc) routes.push(hostRoute([d], serviceHandler(state, svc), { path: pathMatchers(prefix) }));
  }
  const instances = [...state.instances].sort((a, b) => (a.service + a.id).localeCompare(b.service + b.id));
  for (const inst of instances) {
    const svc = services.get(inst.service);
    if (svc) routes.push(hostRoute([instanceHost(d, inst.service, inst.id)], instanceHandler(state, inst, svc)));
  }
  for (const svc of [...services.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    routes.push(hostRoute([serviceHost(d, svc.name)], serviceHandler(state, svc)));
  }
  for (const [label, name] of Object.entries(state.routing.subdomain).sort()) {
    const svc = services.get(name);
    if (svc) routes.push(hostRoute([`${label}.${d}`], serviceHandler(state, svc)));
  }
  const def = state.routing.default ? services.get(state.routing.default) : undefined;
  routes.push(hostRoute([d], def ? serviceHandler(state, def) : apiHandler(state)));
  // Anything else under the domain: a clear 404 rather than falling through to other sites or hanging.
  routes.push({ handle: [notFound(`no tenement instance or service serves this host\n`)] });

  return {
    '@id': TENEMENT_ROUTE_ID,
    match: [{ host: [d, `*.${d}`, `*.*.${d}`] }],
    handle: [{ handler: 'subroute', routes }],
    terminal: true,
  };
}

/** The hosts tenement answers for (for on-demand TLS approval). */
export function knownHosts(state: Pick<RoutingState, 'domain' | 'services' | 'instances' | 'routing'>): Set<string> {
  const d = state.domain;
  const hosts = new Set<string>([d]);
  for (const s of state.services) hosts.add(serviceHost(d, s.name));
  for (const i of state.instances) hosts.add(instanceHost(d, i.service, i.id));
  for (const label of Object.keys(state.routing.subdomain)) hosts.add(`${label}.${d}`);
  return hosts;
}
