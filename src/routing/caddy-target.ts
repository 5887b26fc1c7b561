// Where tenement's route lives: in a Caddy it manages (whole config is ours) or in a Caddy the user
// manages (only the route with our @id is ours; nothing else is touched).
import { CaddyAdminClient, CaddyAdminError, Serialized } from '../../caddy/admin-client.js';
import { findTenantServer } from '../../caddy/external.js';
import { buildManagedConfig, type ManagedConfigOptions, type ManagedTls } from '../../caddy/managed-config.js';
import type { ManagedCaddy } from '../../caddy/managed-caddy.js';
import { ROUTES_ID, routesPart, sameFrame, TENEMENT_ROUTE_ID, VARS, VERSION_ID, type CaddyJson, type CaddyRoute } from '../../caddy/routes.js';

export interface CaddyTarget {
  readonly admin: CaddyAdminClient;
  readonly describe: string;
  /** Our route as Caddy has it now, or undefined when it is missing (Caddy restarted or reloaded). */
  read(): Promise<CaddyRoute | undefined>;
  /** Only the version our route carries (a few bytes), or undefined when the route is missing. */
  readVersion?(): Promise<string | undefined>;
  /**
   * Puts the route in place, whether or not it is there now. One config change. `held` is the route
   * Caddy is known to hold (undefined when unsure): a target may then send only what differs.
   */
  write(route: CaddyRoute, held?: CaddyRoute): Promise<void>;
}

const ROUTE_PATH = `/id/${TENEMENT_ROUTE_ID}`;
const VERSION_PATH = `/id/${VERSION_ID}/${VARS.version}`;
const ROUTES_PATH = `/id/${ROUTES_ID}`;

async function readVersion(admin: CaddyAdminClient): Promise<string | undefined> {
  try {
    const v = await admin.get<unknown>(VERSION_PATH);
    return typeof v === 'string' ? v : undefined;
  } catch (err) {
    if (err instanceof CaddyAdminError && (err.status === 404 || err.status === 400)) return undefined;
    throw err;
  }
}

async function readRoute(admin: CaddyAdminClient): Promise<CaddyRoute | undefined> {
  try {
    return await admin.get<CaddyRoute>(ROUTE_PATH);
  } catch (err) {
    if (err instanceof CaddyAdminError && err.status === 404) return undefined;
    throw err;
  }
}

export class ManagedTarget implements CaddyTarget {
  readonly admin: CaddyAdminClient;
  readonly describe: string;
  /** What Caddy last loaded outside tenement's route (listeners, logging, TLS), as JSON. */
  private loadedOutside: string | undefined;

  constructor(
    private readonly caddy: ManagedCaddy,
    private readonly options: Omit<ManagedConfigOptions, 'route' | 'tls'> & { tls?: () => ManagedTls | undefined },
  ) {
    this.admin = caddy.admin;
    this.describe = `managed Caddy (${caddy.adminAddress})`;
  }

  config(route: CaddyRoute): CaddyJson {
    return buildManagedConfig({ ...this.options, tls: this.options.tls?.(), route });
  }

  read(): Promise<CaddyRoute | undefined> {
    return readRoute(this.admin);
  }

  readVersion(): Promise<string | undefined> {
    return readVersion(this.admin);
  }

  /**
   * A change inside the routes subroute only (weights, service routes) is one PATCH of that subroute:
   * Caddy reloads either way, but decodes a third of the bytes (docs/performance.md). Anything else
   * loads the whole config. Only here: the whole config is tenement's, so nobody else puts an older
   * copy of the host lookup back between two pushes (a restarted Caddy starts from the file saved
   * with every push, partial ones included).
   */
  async write(route: CaddyRoute, held?: CaddyRoute): Promise<void> {
    const config = this.config(route);
    const outside = this.outside(config, route);
    const json = JSON.stringify(config);
    // Saved while Caddy loads it, and both done before the push counts: a Caddy restarted from then
    // on starts with these routes (one restarted in between is found out of date by the drift
    // check and pushed again). Saving first cost every push ~1 ms on the event loop at 1,000 instances.
    const saving = this.caddy.saveConfigAsync(json);
    // Its failure is reported below, after the PATCH; meanwhile it must not count as unhandled.
    saving.catch(() => undefined);
    let applied = false;
    if (held && outside === this.loadedOutside && sameFrame(held, route)) {
      // Any failure (Caddy restarted without the route, a 404 on the id) falls back to a full load.
      applied = await this.admin.patch(ROUTES_PATH, new Serialized(JSON.stringify(routesPart(route)))).then(
        () => true,
        () => false,
      );
    }
    const [saved, loaded] = await Promise.allSettled([saving, applied ? undefined : this.admin.load(new Serialized(json))]);
    if (loaded.status === 'rejected') {
      this.loadedOutside = undefined;
      throw loaded.reason;
    }
    if (!applied) this.loadedOutside = outside;
    if (saved.status === 'rejected') throw saved.reason;
  }

  /** The config but for tenement's route, as JSON (small: the route is most of it). */
  private outside(config: CaddyJson, route: CaddyRoute): string {
    return JSON.stringify(config, (_key, value: unknown) => (value === route ? null : value));
  }
}

export class ExternalTarget implements CaddyTarget {
  readonly describe: string;

  constructor(
    readonly admin: CaddyAdminClient,
    private readonly domain: string,
  ) {
    this.describe = `external Caddy (${admin.address})`;
  }

  read(): Promise<CaddyRoute | undefined> {
    return readRoute(this.admin);
  }

  readVersion(): Promise<string | undefined> {
    return readVersion(this.admin);
  }

  async write(route: CaddyRoute): Promise<void> {
    if ((await this.read()) !== undefined) {
      await this.admin.patch(ROUTE_PATH, route);
      return;
    }
    const servers = await this.admin.get<Record<string, CaddyJson> | null>('/config/apps/http/servers');
    const name = findTenantServer(servers ?? undefined, this.domain);
    const routes = (servers?.[name]?.routes as unknown[] | undefined) ?? undefined;
    const base = `/config/apps/http/servers/${encodeURIComponent(name)}/routes`;
    // First in the server's list, so our hosts are matched before the user's catch-alls.
    if (routes === undefined) await this.admin.put(base, [route]);
    else if (routes.length === 0) await this.admin.append(base, route);
    else await this.admin.put(`${base}/0`, route);
  }
}
