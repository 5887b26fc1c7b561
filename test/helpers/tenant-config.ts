// The tenement.toml most end-to-end tests need: services running the test tenant app, in a data
// dir of the test's own, on a port block of the test process's own.
import { portRange } from './port-range.js';
import { TENANT_COMMAND } from './supervisor-harness.js';

export interface TenantConfigOptions {
  /** service -> extra TOML lines for its table (default: one service "api"). */
  services?: Record<string, string>;
  /** service -> instance ids spawned at start. */
  instances?: Record<string, string[]>;
  healthCheckInterval?: number;
  /** Extra lines of [settings]. */
  settings?: string;
  /** Appended as is (e.g. [routing] tables). */
  extra?: string;
}

export function tenantConfig(dataDir: string, o: TenantConfigOptions = {}): string {
  const services = o.services ?? { api: '' };
  const tables = Object.entries(services)
    .map(([name, lines]) => `[service.${name}]\ncommand = ${JSON.stringify(TENANT_COMMAND)}\nhealth = "/health"\n${lines}\n`)
    .join('\n');
  const instances = Object.entries(o.instances ?? {})
    .map(([svc, ids]) => `${svc} = ${JSON.stringify(ids)}`)
    .join('\n');
  return `[settings]
data_dir = ${JSON.stringify(dataDir)}
health_check_interval = ${o.healthCheckInterval ?? 1}
${portRange().toml}
${o.settings ?? ''}
${tables}
[instances]
${instances}

${o.extra ?? ''}
`;
}
