// `ten config`: the configuration as tenement will use it, with every default filled in and every
// path absolute, written as TOML that tenement itself accepts (so it can be saved and reused).
import { stringify } from 'smol-toml';
import { ROUTING_SCHEMA, SERVICE_SCHEMA, SETTINGS_SCHEMA, TLS_SCHEMA, type KeySpec } from './schema.js';
import type { Config } from './types.js';

export interface RenderOptions {
  /** Write each key's one-line doc from the schema above it (default true). */
  comments?: boolean;
}

// smol-toml knows TOML quoting rules (keys needing quotes, escapes), so it renders each piece.
function tomlKey(key: string): string {
  return stringify({ [key]: 0 })
    .trim()
    .replace(/ = 0$/, '');
}

function tomlValue(value: unknown): string {
  return stringify({ v: value }).trim().replace(/^v = /, '');
}

function header(path: string[]): string {
  return `[${path.map(tomlKey).join('.')}]`;
}

/** Renders the effective config; parsing the result yields the same Config. */
export function renderEffectiveConfig(config: Config, options: RenderOptions = {}): string {
  const comments = options.comments ?? true;
  const out: string[] = [`# Effective configuration of ${config.file}`, '# (defaults filled in, paths absolute)'];

  const section = (path: string[], doc?: string) => {
    out.push('');
    if (comments && doc) out.push(`# ${doc}`);
    out.push(header(path));
  };
  const entry = (key: string, value: unknown, spec?: KeySpec) => {
    if (value === undefined) return;
    if (comments && spec) out.push(`# ${spec.doc}`);
    out.push(`${tomlKey(key)} = ${tomlValue(value)}`);
  };
  const record = <T>(rec: Record<string, T>) => Object.entries(rec);

  section(['settings']);
  for (const spec of SETTINGS_SCHEMA) entry(spec.key, config.settings[spec.key], spec);
  if (config.settings.tls.enabled || TLS_SCHEMA.some((s) => s.default === undefined && config.settings.tls[s.key] !== undefined)) {
    section(['settings', 'tls']);
    for (const spec of TLS_SCHEMA) entry(spec.key, config.settings.tls[spec.key], spec);
  }

  for (const [name, service] of record(config.services)) {
    section(['service', name]);
    for (const spec of SERVICE_SCHEMA) {
      // runtime is folded into isolation; env gets its own table below.
      if (spec.key === 'runtime' || spec.key === 'env') continue;
      entry(spec.key, service[spec.key], spec);
    }
    const env = record(service.env);
    if (env.length > 0) {
      section(['service', name, 'env'], SERVICE_SCHEMA.find((s) => s.key === 'env')?.doc);
      for (const [key, value] of env) entry(key, value);
    }
  }

  const instances = record(config.instances);
  if (instances.length > 0) {
    section(['instances'], 'Instances started with the server.');
    for (const [service, ids] of instances) entry(service, ids);
  }

  const { routing } = config;
  const docOf = (key: string) => ROUTING_SCHEMA.find((s) => s.key === key);
  if (routing.default !== undefined) {
    section(['routing']);
    entry('default', routing.default, docOf('default'));
  }
  for (const key of ['subdomain', 'path'] as const) {
    const routes = record(routing[key]);
    if (routes.length === 0) continue;
    section(['routing', key], docOf(key)?.doc);
    for (const [from, to] of routes) entry(from, to);
  }
  return `${out.join('\n')}\n`;
}
