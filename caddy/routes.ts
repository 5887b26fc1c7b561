// Caddy routes as a pure function of tenement's state. Everything tenement owns in Caddy's config
// is one route with `@id` TENEMENT_ROUTE_ID, replaced whole in one admin call (one reload).
//
// Instance hosts cost one lookup per request, whatever their number: a `map` handler turns the
// Host into the instance's gate file name and upstream address, a `vars` handler keeps both (the
// map is scanned once per placeholder read), and one gated `reverse_proxy` whose dial is a
// placeholder serves them all. On Caddy 2.6 a `subroute` is compiled per request in proportion to
// its length and host routes are walked one by one, so one route per instance made every request
// slower with every tenant (docs/performance.md). Service, subdomain and path routes stay one route
// each: there are few of them.
//
// A change of weights or of service routes replaces only the small subroute (`@id` ROUTES_ID, where
// the version lives too), not the host lookup: Caddy then decodes a third of the bytes, and the
// reload costs it less than a `/load` of the whole config (caddy-target.ts, docs/performance.md).
//
// Sleeping and waking never change this config. Each instance first checks a *gate file*
// (`file` matcher: a stat per request, no caching, present since Caddy 2.0): while the file
// exists (instance asleep, starting or restarting) the request goes to the controller's wake
// endpoint, which starts the instance and forwards the request; once the instance is healthy the
// controller deletes the file and requests go straight to the instance again.
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { repeatedUpstreams, reduceWeights } from './weights.js';
import type { CaddyFeatures } from './features.js';

export const TENEMENT_ROUTE_ID = 'tenement';
export const WAKE_HEADER = 'X-Tenement-Wake';
export const WAKE_KEY_HEADER = 'X-Tenement-Wake-Key';
/** Wake target meaning "the instance the request's Host names, in any case" (not a DNS label, so no instance's). */
export const WAKE_BY_HOST = '@host';
/** `@id` of the small object holding the route tree's version (a cheap drift check reads only it). */
export const VERSION_ID = 'tenement-version';
/** `@id` of the subroute after the host lookup: everything but the lookup, the version included. */
export const ROUTES_ID = 'tenement-routes';
/** Request variables set by the instance lookup; the version rides along in the same handler. */
export const VARS = { gate: 'tenement_gate', dial: 'tenement_dial', version: 'tenement_routes' } as const;
/** Placeholders the host lookup fills (evaluated lazily, only when read). */
const LOOKUP = { gate: '{tenement.gate}', dial: '{tenement.dial}', wake: '{tenement.wake}' } as const;

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

/**
 * The gate file of a service route: it exists while any of these instance gates does (kept so by
 * routing/gates.ts), so Caddy stats one file per request to the service host instead of one per
 * member. Named after the member set ('@' is in no DNS label): a push that changes the set refers
 * to a new file, made before the push, and both stay right while either tree may be in Caddy.
 */
export function serviceGateName(service: string, memberGates: readonly string[]): string {
  return `${service}@${createHash('sha256').update(memberGates.join(',')).digest('hex').slice(0, 12)}`;
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
    transport: controllerTransport(timeoutSec + 30),
  };
}

function gated(state: RoutingState, gateFile: string, target: string, timeoutSec: number, direct: CaddyJson): CaddyJson {
  return {
    handler: 'subroute',
    routes: [{ match: [{ file: { root: state.gateDir, try_files: [`/${gateFile}`] } }], handle: [wakeProxy(state, target, timeoutSec)], terminal: true }, { handle: [direct] }],
  };
}

/**
 * Seconds an idle connection from Caddy to an instance is kept. Short on purpose: an established
 * connection to an instance's port is how tenement sees activity (src/routing/activity.ts), so a
 * connection must not outlive the last request by much. The other fields are Caddy's defaults,
 * which an explicit `keep_alive` object would otherwise set to zero (2 idle connections per host).
 */
export const UPSTREAM_IDLE_SEC = 2;

/**
 * Seconds an idle connection from Caddy to the controller is kept: below the controller's own
 * keep-alive timeout (CONTROLLER_KEEPALIVE_MS in src/controller/http-front.ts), so Caddy is always
 * the side that closes. The other way round, Caddy could reuse a connection in the moment the
 * controller closes it, and a POST on it is not retried: the client gets a 502 (seen on busy
 * machines with Caddy's default of 2 minutes).
 */
export const CONTROLLER_IDLE_SEC = 2;

const controllerTransport = (responseHeaderTimeoutSec?: number): CaddyJson => ({
  protocol: 'http',
  keep_alive: { enabled: true, probe_interval: '30s', idle_timeout: `${CONTROLLER_IDLE_SEC}s`, max_idle_conns_per_host: 32 },
  ...(responseHeaderTimeoutSec === undefined ? {} : { response_header_timeout: `${responseHeaderTimeoutSec}s` }),
});

const directTransport: CaddyJson = {
  protocol: 'http',
  keep_alive: { enabled: true, probe_interval: '30s', idle_timeout: `${UPSTREAM_IDLE_SEC}s`, max_idle_conns_per_host: 32 },
};

function proxy(state: RoutingState, upstreams: CaddyJson[], extra: CaddyJson = {}): CaddyJson {
  return {
    handler: 'reverse_proxy',
    upstreams,
    ...(state.features.streamCloseDelay ? { stream_close_delay: '5m' } : {}),
    ...extra,
  };
}

/** The map from instance host to gate file, upstream and wake target (one entry per instance). */
function instanceLookup(state: RoutingState, instances: RouteInstance[]): CaddyJson {
  return {
    handler: 'map',
    source: '{http.request.host}',
    destinations: [LOOKUP.gate, LOOKUP.dial, LOOKUP.wake],
    mappings: instances.map((i) => ({
      input: instanceHost(state.domain, i.service, i.id),
      outputs: [gateFileName(i.service, i.id), dial(i.port), `${i.service}:${i.id}`],
    })),
    defaults: ['', '', ''],
  };
}

/** Matches requests whose Host is an instance host (the lookup found a gate name). */
const isInstance: CaddyJson = { not: [{ vars: { [VARS.gate]: [''] } }] };

/** The two routes serving every instance host: gated to the wake endpoint, else straight through. */
function instanceRoutes(state: RoutingState, timeoutSec: number): CaddyRoute[] {
  return [
    {
      match: [{ ...isInstance, file: { root: state.gateDir, try_files: [`/{http.vars.${VARS.gate}}`] } }],
      handle: [wakeProxy(state, LOOKUP.wake, timeoutSec)],
      terminal: true,
    },
    {
      match: [isInstance],
      handle: [
        proxy(state, [{ dial: `{http.vars.${VARS.dial}}` }], {
          transport: directTransport,
          // A GET that finds the port closed (crash before the gate is set) is retried, and by then
          // usually lands on the restarted process.
          load_balancing: { try_duration: '3s', try_interval: '100ms' },
        }),
      ],
      terminal: true,
    },
  ];
}

/** The weighted members of a service, in the tree's order. */
function membersOf(state: RoutingState, service: RouteService): RouteInstance[] {
  return state.instances.filter((i) => i.service === service.name && i.weight > 0);
}

function serviceHandler(state: RoutingState, service: RouteService, members: RouteInstance[], gate: string | undefined): CaddyJson {
  if (members.length === 0 || gate === undefined) return unavailable(`no instance of ${service.name} takes traffic (weights are all 0, or none is spawned)`);
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
    transport: directTransport,
    load_balancing: { selection_policy: selection, try_duration: '3s', try_interval: '100ms' },
    // Passive only: an upstream that fails a connection is left out for a few seconds. Active
    // checks would probe every member on a timer, asleep or not (the direct branch is only taken
    // while every member is awake, and the controller health-checks awake instances itself).
    health_checks: { passive: { fail_duration: '5s', max_fails: 1 } },
  });
  // Any weighted member asleep: the controller wakes it and spreads traffic meanwhile.
  return gated(state, gate, service.name, service.requestTimeoutSec, direct);
}

function apiHandler(state: RoutingState): CaddyJson {
  return proxy(state, [{ dial: state.controllerDial }], {
    // Only Caddy may set these; a client sending them through the API route must not reach the wake endpoint.
    headers: { request: { delete: [WAKE_HEADER, WAKE_KEY_HEADER] } },
    transport: controllerTransport(),
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

const hash = (json: string) => createHash('sha256').update(json).digest('base64url').slice(0, 11);

/**
 * The tree's version: `<frame>.<routes>`, a hash of everything outside the ROUTES_ID subroute (the
 * host lookup above all), then of the subroute itself, so a small read tells whether Caddy has the
 * tree, and two versions tell whether only the subroute differs.
 */
function versionOf(frame: CaddyRoute | string, routes: CaddyJson): string {
  return `${typeof frame === 'string' ? frame : hash(JSON.stringify(frame))}.${hash(JSON.stringify(routes))}`;
}

/** The version stored in a route built by buildTenementRoute (undefined for anything else). */
export function routeVersion(route: CaddyRoute | undefined): string | undefined {
  const first = (routesPart(route)?.routes as CaddyRoute[] | undefined)?.[0];
  const vars = first?.handle.find((h) => h['@id'] === VERSION_ID);
  const v = vars?.[VARS.version];
  return typeof v === 'string' ? v : undefined;
}

/** The ROUTES_ID subroute of a route built by buildTenementRoute. */
export function routesPart(route: CaddyRoute | undefined): CaddyJson | undefined {
  return route?.handle.find((h) => h['@id'] === ROUTES_ID);
}

/**
 * True when two built trees differ at most inside their ROUTES_ID subroute (same host lookup,
 * match and handlers around it): replacing that subroute turns one into the other.
 */
export function sameFrame(a: CaddyRoute, b: CaddyRoute): boolean {
  const fa = frameHash(a);
  return fa !== undefined && fa === frameHash(b);
}

function frameHash(route: CaddyRoute | undefined): string | undefined {
  return routeVersion(route)?.split('.')[0];
}

/**
 * The host lookup of `previous` when it maps exactly these instances (ordered) to the same ports:
 * a weight change at a thousand instances then rebuilds, hashes and compares none of it.
 */
function sameLookup(previous: CaddyRoute | undefined, domain: string, instances: RouteInstance[]): CaddyJson | undefined {
  const lookup = previous?.handle[0];
  const mappings = lookup?.mappings as Array<{ input: string; outputs: string[] }> | undefined;
  if (lookup?.handler !== 'map' || !Array.isArray(mappings) || mappings.length !== instances.length) return undefined;
  for (let k = 0; k < instances.length; k++) {
    const i = instances[k]!;
    const m = mappings[k]!;
    // Service and id are DNS labels: the host names both, so it and the port decide the entry.
    if (m.input !== instanceHost(domain, i.service, i.id) || m.outputs[1] !== dial(i.port)) return undefined;
  }
  return lookup;
}

/** A service's handler in a built tree, with what it was built from (see ServiceHandlers). */
interface BuiltHandler {
  from: string;
  handler: CaddyJson;
  /** The service gate it refers to, and the instance gates that file stands for. */
  gate?: { name: string; members: string[] };
}

/** The service handlers of each tree built here: the next build reuses those whose inputs are unchanged. */
const handlersOf = new WeakMap<CaddyRoute, Map<string, BuiltHandler>>();

/**
 * Service handlers for one build. A service of a thousand members costs ~1 ms to build; a weight
 * change of another service then reuses it from the previous tree instead.
 */
class ServiceHandlers {
  readonly built = new Map<string, BuiltHandler>();
  private readonly context: string;

  constructor(
    private readonly state: RoutingState,
    private readonly previous: Map<string, BuiltHandler> | undefined,
  ) {
    // Everything a service handler depends on besides the service and its members.
    this.context = JSON.stringify([state.features, state.gateDir, state.controllerDial, state.wakeKey]);
  }

  of(service: RouteService): CaddyJson {
    const known = this.built.get(service.name);
    if (known) return known.handler;
    const members = membersOf(this.state, service);
    const from = `${this.context}|${service.name}|${service.requestTimeoutSec}|${members.map((m) => `${m.id}:${m.port}:${m.weight}`).join(',')}`;
    const old = this.previous?.get(service.name);
    const made = old?.from === from ? old : this.make(service, members, from);
    this.built.set(service.name, made);
    return made.handler;
  }

  private make(service: RouteService, members: RouteInstance[], from: string): BuiltHandler {
    if (members.length === 0) return { from, handler: serviceHandler(this.state, service, members, undefined) };
    const gates = members.map((m) => gateFileName(m.service, m.id));
    const name = serviceGateName(service.name, gates);
    return { from, handler: serviceHandler(this.state, service, members, name), gate: { name, members: gates } };
  }
}

/** The service gates a tree built here refers to: file name -> the instance gates it stands for. */
export function serviceGates(route: CaddyRoute): Map<string, readonly string[]> {
  const gates = new Map<string, readonly string[]>();
  for (const built of handlersOf.get(route)?.values() ?? []) if (built.gate) gates.set(built.gate.name, built.gate.members);
  return gates;
}

/**
 * Every route tenement serves, as one route object to PATCH at /id/tenement. `previous` (a tree
 * built here before) only saves work: the result is the same with or without it.
 */
export function buildTenementRoute(given: RoutingState, previous?: CaddyRoute): CaddyRoute {
  const d = given.domain;
  const services = new Map(given.services.map((s) => [s.name, s]));
  // One order for everything built from the list, so equal states give byte-equal trees.
  const instances = given.instances
    .filter((i) => services.has(i.service))
    // Code-point order (names are DNS labels): localeCompare costs milliseconds at a thousand.
    .sort((a, b) => (a.service === b.service ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.service < b.service ? -1 : 1));
  const state: RoutingState = { ...given, instances };
  const handlers = new ServiceHandlers(state, previous ? handlersOf.get(previous) : undefined);
  const longestTimeout = Math.max(30, ...state.services.map((s) => s.requestTimeoutSec));
  const routes: CaddyRoute[] = [...instanceRoutes(state, longestTimeout)];

  // Root-domain path overrides first: they are more specific than the root domain itself.
  for (const [prefix, name] of Object.entries(state.routing.path).sort(([a], [b]) => b.length - a.length)) {
    const svc = services.get(name);
    if (svc) routes.push(hostRoute([d], handlers.of(svc), { path: pathMatchers(prefix) }));
  }
  for (const svc of [...services.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    routes.push(hostRoute([serviceHost(d, svc.name)], handlers.of(svc)));
  }
  for (const [label, name] of Object.entries(state.routing.subdomain).sort()) {
    const svc = services.get(name);
    if (svc) routes.push(hostRoute([`${label}.${d}`], handlers.of(svc)));
  }
  const def = state.routing.default ? services.get(state.routing.default) : undefined;
  routes.push(hostRoute([d], def ? handlers.of(def) : apiHandler(state)));
  // A Host with upper-case letters that no route above took: host names are case-insensitive, and
  // Caddy's host matchers ignore case, but the instance lookup compares exactly and Caddy 2.6 has
  // no lower-case placeholder. Such requests are rare (browsers and DNS send lower case; curl
  // sends what it is given), so the controller resolves the host itself and forwards them, like a
  // held request. `{http.request.host}` carries no port.
  routes.push({ match: [{ vars_regexp: { '{http.request.host}': { pattern: '[A-Z]' } } }], handle: [wakeProxy(state, WAKE_BY_HOST, longestTimeout)] });
  // Anything else under the domain: a clear 404 rather than falling through to other sites or hanging.
  routes.push({ handle: [notFound(`no tenement instance or service serves this host\n`)] });

  const vars: CaddyJson = {
    '@id': VERSION_ID,
    handler: 'vars',
    // Read once here: every later use is a plain variable, not another scan of the map.
    [VARS.gate]: LOOKUP.gate,
    [VARS.dial]: LOOKUP.dial,
    [VARS.version]: '',
  };
  const subroute: CaddyJson = { '@id': ROUTES_ID, handler: 'subroute', routes: [{ handle: [vars] }, ...routes] };
  const match = [{ host: [d, `*.${d}`, `*.*.${d}`] }];
  // The frame is the same as previous's when its match and lookup are: its hash is kept too.
  const kept = isDeepStrictEqual(previous?.match, match) ? sameLookup(previous, d, instances) : undefined;
  const keptHash = kept ? frameHash(previous) : undefined;
  const lookup = keptHash !== undefined ? kept! : instanceLookup(state, instances);
  const frame: CaddyRoute = { '@id': TENEMENT_ROUTE_ID, match, handle: [lookup], terminal: true };
  vars[VARS.version] = versionOf(keptHash ?? frame, subroute);
  const route = { ...frame, handle: [lookup, subroute] };
  handlersOf.set(route, handlers.built);
  return route;
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
