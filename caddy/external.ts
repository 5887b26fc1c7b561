// Finding where tenement's route goes in the config of a Caddy the user manages.
import type { CaddyJson } from './routes.js';

interface Server {
  listen?: string[];
  routes?: Array<{ match?: Array<{ host?: string[] }> }>;
}

function hostsOf(server: Server): string[] {
  return (server.routes ?? []).flatMap((r) => (r.match ?? []).flatMap((m) => m.host ?? []));
}

/**
 * The server that serves the tenant domain: one with a host matcher for the domain or *.domain;
 * else the only server there is. Throws with what was found when it cannot tell.
 */
export function findTenantServer(servers: Record<string, CaddyJson> | undefined, domain: string): string {
  const entries = Object.entries(servers ?? {}) as Array<[string, Server]>;
  if (entries.length === 0) {
    throw new Error(`Caddy has no HTTP server configured; add a site for ${domain} and *.${domain} (see Caddyfile.example)`);
  }
  const wanted = new Set([domain, `*.${domain}`]);
  const matching = entries.filter(([, s]) => hostsOf(s).some((h) => wanted.has(h)));
  if (matching.length >= 1) return matching[0]![0];
  if (entries.length === 1) return entries[0]![0];
  const list = entries.map(([name, s]) => `${name} (${(s.listen ?? []).join(', ')}: ${hostsOf(s).join(', ') || 'no hosts'})`).join('; ');
  throw new Error(`none of Caddy's servers serves ${domain} or *.${domain}: ${list}. Add a site for them (see Caddyfile.example)`);
}

/** Access log files configured in Caddy's logging (file writers that include HTTP access logs). */
export function accessLogFiles(config: CaddyJson | undefined): string[] {
  const logs = ((config?.logging as CaddyJson | undefined)?.logs ?? {}) as Record<string, CaddyJson>;
  const files: string[] = [];
  for (const log of Object.values(logs)) {
    const writer = log.writer as { output?: string; filename?: string } | undefined;
    const include = (log.include as string[] | undefined) ?? [];
    if (writer?.output === 'file' && writer.filename && include.some((i) => i.startsWith('http.log.access'))) files.push(writer.filename);
  }
  return files;
}
