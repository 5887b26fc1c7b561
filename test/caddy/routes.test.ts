// The whole route tree tenement pushes to Caddy, as JSON, for the shapes of state that matter:
// no instances, instances of several services, weights (2.6 and 2.7+), [routing] overrides.
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASELINE, featuresFromVersion } from '../../caddy/features.js';
import {
  buildTenementRoute,
  CONTROLLER_IDLE_SEC,
  ROUTES_ID,
  routesPart,
  routeVersion,
  sameFrame,
  serviceGates,
  VERSION_ID,
  type CaddyJson,
  type CaddyRoute,
  type RoutingState,
} from '../../caddy/routes.js';
import { CONTROLLER_KEEPALIVE_MS } from '../../src/controller/http-front.js';

const KEY = 'k3y';
const GATES = '/data/_run/gates';

function state(over: Partial<RoutingState> = {}): RoutingState {
  return {
    domain: 'example.com',
    services: [
      { name: 'api', health: '/health', healthIntervalSec: 10, requestTimeoutSec: 30 },
      { name: 'docs', health: undefined, healthIntervalSec: 10, requestTimeoutSec: 60 },
    ],
    instances: [],
    routing: { default: undefined, subdomain: {}, path: {} },
    controllerDial: '127.0.0.1:8080',
    gateDir: GATES,
    wakeKey: KEY,
    features: BASELINE,
    ...over,
  };
}

const transport = { protocol: 'http', keep_alive: { enabled: true, probe_interval: '30s', idle_timeout: '2s', max_idle_conns_per_host: 32 } };
const wake = (target: string, timeoutSec: number) => ({
  handler: 'reverse_proxy',
  upstreams: [{ dial: '127.0.0.1:8080' }],
  headers: { request: { set: { 'X-Tenement-Wake': [target], 'X-Tenement-Wake-Key': [KEY] } } },
  // Caddy drops idle connections to the controller before the controller would (see CONTROLLER_IDLE_SEC).
  transport: { ...transport, response_header_timeout: `${timeoutSec + 30}s` },
});
const isInstance = { not: [{ vars: { tenement_gate: [''] } }] };
const instanceRoutes = (timeoutSec: number, extra: CaddyJson = {}) => [
  { match: [{ ...isInstance, file: { root: GATES, try_files: ['/{http.vars.tenement_gate}'] } }], handle: [wake('{tenement.wake}', timeoutSec)], terminal: true },
  {
    match: [isInstance],
    handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: '{http.vars.tenement_dial}' }], transport, load_balancing: { try_duration: '3s', try_interval: '100ms' }, ...extra }],
    terminal: true,
  },
];
const api = {
  match: [{ host: ['example.com'] }],
  handle: [
    {
      handler: 'reverse_proxy',
      upstreams: [{ dial: '127.0.0.1:8080' }],
      headers: { request: { delete: ['X-Tenement-Wake', 'X-Tenement-Wake-Key'] } },
      transport,
      health_checks: { active: { uri: '/health', interval: '2s', timeout: '2s' } },
      load_balancing: { try_duration: '5s', try_interval: '100ms' },
    },
  ],
  terminal: true,
};
const unavailable = (svc: string) => ({
  handler: 'static_response',
  status_code: 503,
  body: `no instance of ${svc} takes traffic (weights are all 0, or none is spawned)`,
  headers: { 'Content-Type': ['text/plain; charset=utf-8'], 'Retry-After': ['5'] },
});
const notFound = {
  handle: [
    { handler: 'static_response', status_code: 404, body: 'no tenement instance or service serves this host\n', headers: { 'Content-Type': ['text/plain; charset=utf-8'] } },
  ],
};
/** Hosts with upper-case letters go to the controller (the lookup is exact), then the 404. */
const notFoundTail = (timeoutSec: number) => [{ match: [{ vars_regexp: { '{http.request.host}': { pattern: '[A-Z]' } } }], handle: [wake('@host', timeoutSec)] }, notFound];
/** A service's gate file: named after its members' gates (it exists while any of theirs does). */
const serviceGate = (svc: string, gates: string[]) => `${svc}@${createHash('sha256').update(gates.join(',')).digest('hex').slice(0, 12)}`;
/** A service route: gated by its service gate file, then round robin over `upstreams`. */
const serviceHandler = (svc: string, gates: string[], upstreams: string[], timeoutSec: number, selection: CaddyJson = { policy: 'round_robin' }, extra: CaddyJson = {}) => ({
  handler: 'subroute',
  routes: [
    { match: [{ file: { root: GATES, try_files: [`/${serviceGate(svc, gates)}`] } }], handle: [wake(svc, timeoutSec)], terminal: true },
    {
      handle: [
        {
          handler: 'reverse_proxy',
          upstreams: upstreams.map((dial) => ({ dial })),
          transport,
          load_balancing: { selection_policy: selection, try_duration: '3s', try_interval: '100ms' },
          health_checks: { passive: { fail_duration: '5s', max_fails: 1 } },
          ...extra,
        },
      ],
    },
  ],
});

function tree(mappings: Array<[string, string, string, string]>, routes: unknown[], built: CaddyRoute): CaddyRoute {
  return {
    '@id': 'tenement',
    match: [{ host: ['example.com', '*.example.com', '*.*.example.com'] }],
    handle: [
      {
        handler: 'map',
        source: '{http.request.host}',
        destinations: ['{tenement.gate}', '{tenement.dial}', '{tenement.wake}'],
        mappings: mappings.map(([input, ...outputs]) => ({ input, outputs })),
        defaults: ['', '', ''],
      },
      {
        '@id': ROUTES_ID,
        handler: 'subroute',
        routes: [
          { handle: [{ '@id': VERSION_ID, handler: 'vars', tenement_gate: '{tenement.gate}', tenement_dial: '{tenement.dial}', tenement_routes: routeVersion(built) }] },
          ...routes,
        ],
      },
    ],
    terminal: true,
  } as CaddyRoute;
}

const cases: Array<{ name: string; state: RoutingState; want: (built: CaddyRoute) => CaddyRoute }> = [
  {
    name: 'no instances: the lookup is empty, services answer 503, the root domain is the API',
    state: state(),
    want: (b) =>
      tree(
        [],
        [
          ...instanceRoutes(60),
          { match: [{ host: ['api.example.com'] }], handle: [unavailable('api')], terminal: true },
          { match: [{ host: ['docs.example.com'] }], handle: [unavailable('docs')], terminal: true },
          api,
          ...notFoundTail(60),
        ],
        b,
      ),
  },
  {
    name: 'instances of two services: one lookup entry each (sorted), one route per service; weight 0 stays out of the service',
    state: state({
      instances: [
        { service: 'docs', id: 'main', port: 30003, weight: 100 },
        { service: 'api', id: 'bob', port: 30002, weight: 25 },
        { service: 'api', id: 'alice', port: 30001, weight: 75 },
        { service: 'api', id: 'carol', port: 30004, weight: 0 },
        { service: 'gone', id: 'x', port: 30009, weight: 100 },
      ],
    }),
    want: (b) =>
      tree(
        [
          ['alice.api.example.com', 'api.alice', '127.0.0.1:30001', 'api:alice'],
          ['bob.api.example.com', 'api.bob', '127.0.0.1:30002', 'api:bob'],
          ['carol.api.example.com', 'api.carol', '127.0.0.1:30004', 'api:carol'],
          ['main.docs.example.com', 'docs.main', '127.0.0.1:30003', 'docs:main'],
        ],
        [
          ...instanceRoutes(60),
          {
            match: [{ host: ['api.example.com'] }],
            handle: [serviceHandler('api', ['api.alice', 'api.bob'], ['127.0.0.1:30001', '127.0.0.1:30002', '127.0.0.1:30001', '127.0.0.1:30001'], 30)],
            terminal: true,
          },
          { match: [{ host: ['docs.example.com'] }], handle: [serviceHandler('docs', ['docs.main'], ['127.0.0.1:30003'], 60)], terminal: true },
          api,
          ...notFoundTail(60),
        ],
        b,
      ),
  },
  {
    name: 'Caddy 2.7+: native weighted_round_robin with reduced weights, stream_close_delay on every proxy to an instance',
    state: state({
      services: [{ name: 'api', health: '/health', healthIntervalSec: 10, requestTimeoutSec: 30 }],
      instances: [
        { service: 'api', id: 'alice', port: 30001, weight: 75 },
        { service: 'api', id: 'bob', port: 30002, weight: 25 },
      ],
      features: featuresFromVersion('v2.7.6 h1:abc'),
    }),
    want: (b) => {
      const delay = { stream_close_delay: '5m' };
      return tree(
        [
          ['alice.api.example.com', 'api.alice', '127.0.0.1:30001', 'api:alice'],
          ['bob.api.example.com', 'api.bob', '127.0.0.1:30002', 'api:bob'],
        ],
        [
          ...instanceRoutes(30, delay),
          {
            match: [{ host: ['api.example.com'] }],
            handle: [serviceHandler('api', ['api.alice', 'api.bob'], ['127.0.0.1:30001', '127.0.0.1:30002'], 30, { policy: 'weighted_round_robin', weights: [3, 1] }, delay)],
            terminal: true,
          },
          { ...api, handle: [{ ...api.handle[0], ...delay }] },
          ...notFoundTail(30),
        ],
        b,
      );
    },
  },
  {
    name: '[routing] path (longest first), subdomain and default: one route each, on the root domain or their label',
    state: state({
      instances: [{ service: 'docs', id: 'main', port: 30003, weight: 100 }],
      routing: { default: 'docs', subdomain: { help: 'docs', www: 'docs' }, path: { '/docs': 'docs', '/docs/v2/': 'docs', '/x': 'missing' } },
    }),
    want: (b) => {
      const docs = serviceHandler('docs', ['docs.main'], ['127.0.0.1:30003'], 60);
      return tree(
        [['main.docs.example.com', 'docs.main', '127.0.0.1:30003', 'docs:main']],
        [
          ...instanceRoutes(60),
          { match: [{ host: ['example.com'], path: ['/docs/v2', '/docs/v2/*'] }], handle: [docs], terminal: true },
          { match: [{ host: ['example.com'], path: ['/docs', '/docs/*'] }], handle: [docs], terminal: true },
          { match: [{ host: ['api.example.com'] }], handle: [unavailable('api')], terminal: true },
          { match: [{ host: ['docs.example.com'] }], handle: [docs], terminal: true },
          { match: [{ host: ['help.example.com'] }], handle: [docs], terminal: true },
          { match: [{ host: ['www.example.com'] }], handle: [docs], terminal: true },
          { match: [{ host: ['example.com'] }], handle: [docs], terminal: true },
          ...notFoundTail(60),
        ],
        b,
      );
    },
  },
];

for (const c of cases) {
  test(`route tree: ${c.name}`, () => {
    const built = buildTenementRoute(c.state);
    assert.deepEqual(built, c.want(built));
  });
}

test('the route tree does not grow per instance beyond one lookup entry', () => {
  const many = (n: number) => buildTenementRoute(state({ instances: Array.from({ length: n }, (_, i) => ({ service: 'api', id: `i${i}`, port: 30000 + i, weight: 0 })) }));
  const small = many(1);
  const large = many(1000);
  const sub = (r: CaddyRoute) => (routesPart(r) as { routes: unknown[] }).routes.length;
  assert.equal(sub(large), sub(small), 'same number of routes at 1 and 1,000 instances');
  assert.equal((large.handle[0] as { mappings: unknown[] }).mappings.length, 1000);
});

test('the version changes with any change of the tree and only then', () => {
  const a = buildTenementRoute(state({ instances: [{ service: 'api', id: 'a', port: 30001, weight: 100 }] }));
  const same = buildTenementRoute(state({ instances: [{ service: 'api', id: 'a', port: 30001, weight: 100 }] }));
  const weight = buildTenementRoute(state({ instances: [{ service: 'api', id: 'a', port: 30001, weight: 0 }] }));
  const port = buildTenementRoute(state({ instances: [{ service: 'api', id: 'a', port: 30002, weight: 100 }] }));
  assert.match(routeVersion(a) ?? '', /^[\w-]{11}\.[\w-]{11}$/);
  assert.equal(routeVersion(a), routeVersion(same));
  assert.notEqual(routeVersion(a), routeVersion(weight));
  assert.notEqual(routeVersion(a), routeVersion(port));
  assert.equal(routeVersion({ handle: [] }), undefined);
});

test('two trees differ only inside the routes subroute exactly when no instance came, went or moved', () => {
  const inst = (over: Partial<RoutingState['instances'][number]> = {}) => ({ service: 'api', id: 'a', port: 30001, weight: 100, ...over });
  const a = buildTenementRoute(state({ instances: [inst()] }));
  const weight = buildTenementRoute(state({ instances: [inst({ weight: 0 })] }));
  const routing = buildTenementRoute(state({ instances: [inst()], routing: { default: 'api', subdomain: {}, path: {} } }));
  assert.ok(sameFrame(a, weight), 'a weight change');
  assert.ok(sameFrame(a, routing), 'a [routing] change');
  assert.deepEqual({ ...weight, handle: [weight.handle[0]] }, { ...a, handle: [a.handle[0]] }, 'then everything outside the subroute is equal');
  for (const [what, other] of [
    ['a moved port', state({ instances: [inst({ port: 30002 })] })],
    ['a new instance', state({ instances: [inst(), inst({ id: 'b', port: 30002 })] })],
    ['a removed instance', state()],
    ['another domain', state({ instances: [inst()], domain: 'example.org' })],
  ] as const) {
    assert.equal(sameFrame(a, buildTenementRoute(other)), false, what);
  }
  assert.equal(sameFrame({ handle: [] }, { handle: [] }), false, 'trees without a version are never taken as equal');
});

/** The handler of a service's own host route in a built tree. */
function serviceRoute(tree: CaddyRoute, service: string): CaddyJson | undefined {
  const routes = (routesPart(tree) as { routes: CaddyRoute[] }).routes;
  return routes.find((r) => (r.match?.[0]?.host as string[] | undefined)?.[0] === `${service}.example.com`)?.handle[0];
}

test('a tree built from the previous one is the tree built from scratch, and shares what did not change', () => {
  const many = (over: (i: number) => Partial<RoutingState['instances'][number]> = () => ({})) =>
    Array.from({ length: 50 }, (_, i) => ({ service: i % 2 ? 'api' : 'docs', id: `i${i}`, port: 30000 + i, weight: 100, ...over(i) }));
  const states: Array<[string, RoutingState]> = [
    ['start', state({ instances: many() })],
    ['a weight of api', state({ instances: many((i) => (i === 1 ? { weight: 0 } : {})) })],
    ['a weight of docs', state({ instances: many((i) => (i === 1 ? { weight: 0 } : i === 2 ? { weight: 30 } : {})) })],
    ['a moved port', state({ instances: many((i) => (i === 3 ? { port: 31000 } : {})) })],
    ['one instance fewer', state({ instances: many().slice(1) })],
    [
      'another request timeout',
      state({
        instances: many(),
        services: [
          { name: 'api', health: '/health', healthIntervalSec: 10, requestTimeoutSec: 5 },
          { name: 'docs', health: undefined, healthIntervalSec: 10, requestTimeoutSec: 60 },
        ],
      }),
    ],
    ['Caddy 2.7 features', state({ instances: many(), features: featuresFromVersion('v2.7.6') })],
    ['another controller address', state({ instances: many(), controllerDial: '127.0.0.1:9090' })],
    ['another domain', state({ instances: many(), domain: 'example.org' })],
    ['a [routing] default', state({ instances: many(), routing: { default: 'docs', subdomain: {}, path: {} } })],
  ];
  let previous: CaddyRoute | undefined;
  for (const [what, s] of states) {
    const fresh = buildTenementRoute(s);
    const built = buildTenementRoute(s, previous);
    assert.deepEqual(built, fresh, `${what}: the same tree`);
    if (previous && what.startsWith('a weight')) assert.equal(built.handle[0], previous.handle[0], `${what}: the host lookup is reused`);
    if (previous && what === 'a weight of docs') assert.equal(serviceRoute(built, 'api'), serviceRoute(previous, 'api'), "api's handler is reused");
    previous = built;
  }
});

test('each service route stats one gate file, named after its weighted members; the tree lists them for the router', () => {
  const s = state({
    instances: [
      { service: 'api', id: 'bob', port: 30002, weight: 100 },
      { service: 'api', id: 'alice', port: 30001, weight: 100 },
      { service: 'api', id: 'zero', port: 30004, weight: 0 },
      { service: 'docs', id: 'main', port: 30003, weight: 100 },
    ],
  });
  const built = buildTenementRoute(s);
  assert.deepEqual(
    [...serviceGates(built)],
    [
      [serviceGate('api', ['api.alice', 'api.bob']), ['api.alice', 'api.bob']],
      [serviceGate('docs', ['docs.main']), ['docs.main']],
    ],
  );
  // A weight change keeps the member set and so the gate; a member leaving the service changes it.
  const reweighted = buildTenementRoute(state({ ...s, instances: s.instances.map((i) => (i.id === 'bob' ? { ...i, weight: 25 } : i)) }), built);
  assert.deepEqual([...serviceGates(reweighted).keys()], [...serviceGates(built).keys()]);
  const bobOut = buildTenementRoute(state({ ...s, instances: s.instances.map((i) => (i.id === 'bob' ? { ...i, weight: 0 } : i)) }), built);
  assert.deepEqual([...serviceGates(bobOut)][0], [serviceGate('api', ['api.alice']), ['api.alice']]);
  assert.deepEqual(serviceGates(buildTenementRoute(state())), new Map(), 'a service without members has no gate (it answers 503)');
});

test('Caddy keeps idle connections to the controller for less time than the controller does, so Caddy always closes first', () => {
  assert.ok(CONTROLLER_IDLE_SEC * 1000 < CONTROLLER_KEEPALIVE_MS, `${CONTROLLER_IDLE_SEC} s must stay below ${CONTROLLER_KEEPALIVE_MS} ms`);
  const route = buildTenementRoute(state());
  const toController: CaddyJson[] = [];
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) return x.forEach(walk);
    if (x && typeof x === 'object') {
      const o = x as CaddyJson;
      if (o.handler === 'reverse_proxy' && JSON.stringify(o.upstreams) === JSON.stringify([{ dial: '127.0.0.1:8080' }])) toController.push(o);
      Object.values(o).forEach(walk);
    }
  };
  walk(route);
  assert.ok(toController.length >= 2, 'the wake and API proxies');
  for (const p of toController) assert.equal((p.transport as { keep_alive?: { idle_timeout?: string } } | undefined)?.keep_alive?.idle_timeout, `${CONTROLLER_IDLE_SEC}s`);
});
