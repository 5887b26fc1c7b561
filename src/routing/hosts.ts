// What a Host header means under the tenant domain. The single place that knows the host scheme,
// shared by activity tracking, metrics and on-demand TLS approval.
import type { RoutingConfig } from '../config/types.js';
import { isDnsLabel } from '../util/instance-key.js';

export type HostTarget = { kind: 'instance'; service: string; id: string } | { kind: 'service'; service: string } | { kind: 'root' };

/** Lower-cased host without port (Host headers may carry one). */
export function bareHost(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon >= 0 && /^\d+$/.test(h.slice(colon + 1)) ? h.slice(0, colon) : h;
}

export function resolveHost(host: string, domain: string, routing: RoutingConfig): HostTarget | undefined {
  const h = bareHost(host);
  const d = domain.toLowerCase();
  if (h === d) return routing.default ? { kind: 'service', service: routing.default } : { kind: 'root' };
  if (!h.endsWith(`.${d}`)) return undefined;
  const labels = h.slice(0, -(d.length + 1)).split('.');
  if (labels.length === 1) {
    const label = labels[0]!;
    return { kind: 'service', service: routing.subdomain[label] ?? label };
  }
  if (labels.length === 2) return { kind: 'instance', service: labels[1]!, id: labels[0]! };
  return undefined;
}

/** A tenant a host can name: an instance, or (id undefined) a service route. */
export interface HostTenant {
  service: string;
  id: string | undefined;
}

/** The tenant a host names, if any: not the root domain, and only names that are DNS labels. */
export function tenantOfHost(host: string, domain: string, routing: RoutingConfig): HostTenant | undefined {
  const t = resolveHost(host, domain, routing);
  if (!t || t.kind === 'root' || !isDnsLabel(t.service)) return undefined;
  if (t.kind === 'service') return { service: t.service, id: undefined };
  return isDnsLabel(t.id) ? { service: t.service, id: t.id } : undefined;
}
