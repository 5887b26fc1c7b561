// Turns parsed TOML into a Config, or explains everything that is wrong with it at once.
// The original ignored unknown keys and silently ran unsupported isolation as something else;
// here every problem is an error or a warning that names its file, line and key.
import { isIP } from 'node:net';
import path from 'node:path';
import { splitCommand } from './command.js';
import { dnsLabelProblem } from '../util/instance-key.js';
import { ConfigError } from './errors.js';
import { formatKeyPath, indexSource, type KeyPath, type SourceIndex } from './locate.js';
import { describeExpected, ROUTING_SCHEMA, schemaKeys, SERVICE_SCHEMA, SETTINGS_SCHEMA, TLS_SCHEMA, TOP_LEVEL_TABLES, type KeySpec } from './schema.js';
import { didYouMean, suggest } from './suggest.js';
import { findUnknownPlaceholders, PLACEHOLDERS } from './template.js';
import type { Config, ConfigIssue, Isolation, RoutingConfig, ServiceConfig, Settings, TlsSettings } from './types.js';

export interface ValidationResult {
  config: Config;
  /** Problems that do not stop tenement (unknown keys, limits not enforced); show them at every start. */
  warnings: ConfigIssue[];
}

type Table = Record<string, unknown>;

const SETTINGS_KEYS = schemaKeys(SETTINGS_SCHEMA);
const SERVICE_KEYS = schemaKeys(SERVICE_SCHEMA);
const ROUTING_KEYS = schemaKeys(ROUTING_SCHEMA);
const TOP_KEYS = TOP_LEVEL_TABLES.map((t) => t.key as string);

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

// Parsed tables are prototype-less (toml.ts); hasOwn also keeps `constructor`-like names from resolving to Object's in tables built elsewhere.
function own(table: Table, key: string): unknown {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

// Plain assignment of "__proto__" would replace the prototype instead of adding a key.
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan';
    if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
    return String(value);
  }
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return `the date ${value.toISOString()}`;
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (isTable(value)) return 'a table';
  return String(value);
}

function serviceHeader(name: string): string {
  return `[${formatKeyPath(['service', name])}]`;
}

class Validator {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  private readonly index: SourceIndex;
  private readonly dir: string;
  /** Service names that have a table, valid or not, so references to them are not reported twice. */
  private readonly defined = new Set<string>();

  constructor(
    source: string | SourceIndex,
    private readonly file: string,
  ) {
    this.index = typeof source === 'string' ? indexSource(source) : source;
    this.dir = path.dirname(path.resolve(file));
  }

  private issue(at: KeyPath, message: string): ConfigIssue {
    return { file: this.file, line: this.index.line(at), key: formatKeyPath(at), message };
  }

  private error(at: KeyPath, message: string): void {
    this.errors.push(this.issue(at, message));
  }

  private warn(at: KeyPath, message: string): void {
    this.warnings.push(this.issue(at, message));
  }

  run(raw: unknown): Config {
    const root: Table = isTable(raw) ? raw : {};
    if (!isTable(raw)) this.error([], `expected a TOML document (a table), found ${describeValue(raw)}`);
    for (const key of Object.keys(root)) {
      if (!TOP_KEYS.includes(key)) this.warnUnknown([], key, own(root, key), TOP_KEYS);
    }
    const settings = this.settings(own(root, 'settings'));
    const services = this.services(own(root, 'service'));
    return {
      file: path.resolve(this.file),
      settings,
      services,
      instances: this.instances(own(root, 'instances')),
      routing: this.routing(own(root, 'routing')),
    };
  }

  /** An optional table: undefined when absent, {} (after an error) when not a table. */
  private table(value: unknown, at: KeyPath, expected: string): Table | undefined {
    if (value === undefined) return undefined;
    if (isTable(value)) return value;
    this.error(at, `expected ${expected}, found ${describeValue(value)}`);
    return {};
  }

  private warnUnknown(at: KeyPath, key: string, value: unknown, known: readonly string[]): void {
    const where = at.length === 0 ? 'at the top level' : `in [${formatKeyPath(at)}]`;
    const isTableHere = isTable(value) && at.length === 0;
    let message = `unknown ${isTableHere ? 'table' : 'key'} ${where} is ignored`;
    // A known key in the wrong table is a likelier mistake than a typo.
    if (at[0] !== 'settings' && SETTINGS_KEYS.includes(key)) {
      message += `; \`${key}\` belongs in [settings]`;
    } else if (at[0] !== 'service' && SERVICE_KEYS.includes(key)) {
      message += `; \`${key}\` is a per-service key: put it in [service.NAME]`;
    } else {
      message += didYouMean(key, known, (s) => (isTableHere ? `[${s}]` : `\`${s}\``));
    }
    this.warn([...at, key], message);
  }

  /** Validates a scalar or string-array key against its spec; undefined when absent or invalid. */
  private field(spec: KeySpec, value: unknown, at: KeyPath): unknown {
    if (value === undefined) {
      if (spec.required) this.error(at, `missing required key \`${spec.key}\``);
      return undefined;
    }
    const bad = () => this.error(at, `expected ${describeExpected(spec)}, found ${describeValue(value)}`);
    switch (spec.kind) {
      case 'integer':
        if (typeof value !== 'number' || !Number.isInteger(value) || (spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
          bad();
          return undefined;
        }
        return value;
      case 'string':
      case 'path':
        if (typeof value !== 'string' || ((spec.required || spec.kind === 'path') && value.trim() === '')) {
          bad();
          return undefined;
        }
        return value;
      case 'boolean':
        if (typeof value !== 'boolean') {
          bad();
          return undefined;
        }
        return value;
      case 'enum':
        return this.enumField(spec, value, at);
      case 'string-array': {
        if (!Array.isArray(value)) {
          bad();
          return undefined;
        }
        let ok = true;
        value.forEach((item, i) => {
          if (typeof item !== 'string') {
            this.error([...at, i], `expected a string, found ${describeValue(item)}`);
            ok = false;
          }
        });
        return ok ? (value as string[]) : undefined;
      }
      case 'string-table':
        // Each string table has its own rules (env, routing); they are checked where they are used.
        return value;
    }
  }

  private enumField(spec: KeySpec, value: unknown, at: KeyPath): string | undefined {
    const values = spec.values ?? [];
    if (typeof value === 'string' && values.includes(value)) return value;
    if (typeof value === 'string' && spec.unimplemented?.includes(value)) {
      this.error(
        at,
        `${JSON.stringify(value)} isolation is not implemented in this version of tenement yet; only ${values.map((v) => JSON.stringify(v)).join(', ')} ` +
          `are available (see docs/isolation.md). Set ${spec.key} = "namespace" or "process", or remove the key`,
      );
      return undefined;
    }
    const hint = typeof value === 'string' ? didYouMean(value, [...values, ...(spec.unimplemented ?? [])], (s) => JSON.stringify(s)) : '';
    this.error(at, `expected ${describeExpected(spec)}, found ${describeValue(value)}${hint}`);
    return undefined;
  }

  private settings(raw: unknown): Settings {
    const at: KeyPath = ['settings'];
    const table = this.table(raw, at, 'a table [settings]') ?? {};
    const values: Record<string, unknown> = {};
    const invalid = new Set<string>();
    const given = new Set<string>();
    for (const spec of SETTINGS_SCHEMA) {
      const rawValue = own(table, spec.key);
      const value = this.field(spec, rawValue, [...at, spec.key]);
      if (rawValue !== undefined) (value === undefined ? invalid : given).add(spec.key);
      values[spec.key] = value ?? spec.default ?? (spec.kind === 'string-array' ? [] : undefined);
    }
    (values.trusted_proxies as string[]).forEach((p, i) => {
      if (isIP(p) === 0)
        this.error([...at, 'trusted_proxies', i], `expected an IP address (the proxy's address as this server sees it, e.g. "127.0.0.1"), found ${JSON.stringify(p)}`);
    });
    const metricsToken = values.metrics_token as string | undefined;
    if (metricsToken !== undefined && (metricsToken.length < 16 || /\s/.test(metricsToken))) {
      this.error([...at, 'metrics_token'], 'must be at least 16 characters without spaces (a guessable token protects nothing; e.g. `openssl rand -hex 24`)');
    }
    for (const spec of SETTINGS_SCHEMA) {
      const lowKey = spec.atLeastKey;
      if (lowKey === undefined || invalid.has(spec.key) || invalid.has(lowKey)) continue;
      const high = values[spec.key] as number;
      const low = values[lowKey] as number;
      if (high >= low) continue;
      if (given.has(spec.key)) {
        this.error([...at, spec.key], `must be >= ${lowKey} (${low}), found ${high}`);
      } else {
        this.error([...at, lowKey], `is ${low}, above ${spec.key} (${high}, its default); set ${spec.key} too`);
      }
    }
    for (const key of Object.keys(table)) {
      if (key === 'tls') continue;
      if (!SETTINGS_KEYS.includes(key)) this.warnUnknown(at, key, own(table, key), [...SETTINGS_KEYS, 'tls']);
    }
    values.data_dir = path.resolve(this.dir, values.data_dir as string);
    values.tls = this.tls(own(table, 'tls'));
    return values as unknown as Settings;
  }

  private tls(raw: unknown): TlsSettings {
    const at: KeyPath = ['settings', 'tls'];
    const table = this.table(raw, at, 'a table [settings.tls]') ?? {};
    const values: Record<string, unknown> = {};
    for (const spec of TLS_SCHEMA) values[spec.key] = this.field(spec, own(table, spec.key), [...at, spec.key]) ?? spec.default;
    const keys = schemaKeys(TLS_SCHEMA);
    for (const key of Object.keys(table)) if (!keys.includes(key)) this.warnUnknown(at, key, own(table, key), keys);
    return values as unknown as TlsSettings;
  }

  private services(raw: unknown): Record<string, ServiceConfig> {
    const at: KeyPath = ['service'];
    const services: Record<string, ServiceConfig> = {};
    if (Array.isArray(raw)) {
      this.error(at, 'expected [service.NAME] tables, found an array of tables ([[service]]); put the name in the header: [service.api]');
      return services;
    }
    const table = this.table(raw, at, 'a table of [service.NAME] tables');
    if (table === undefined || Object.keys(table).length === 0) {
      this.warn(at, 'no [service.NAME] table: there is nothing to run');
      return services;
    }
    for (const name of Object.keys(table)) {
      const value = own(table, name);
      if (isTable(value)) this.defined.add(name);
    }
    for (const name of Object.keys(table)) {
      const value = own(table, name);
      const sat: KeyPath = [...at, name];
      const problem = dnsLabelProblem(name);
      if (problem) this.error(sat, `service name ${JSON.stringify(name)} ${problem}`);
      if (!isTable(value)) {
        this.error(sat, `expected a table ${serviceHeader(name)} with at least \`command\`, found ${describeValue(value)}`);
        continue;
      }
      const service = this.service(name, value, sat);
      if (service && !problem) setOwn(services, name, service);
    }
    return services;
  }

  private service(name: string, table: Table, at: KeyPath): ServiceConfig | undefined {
    const values: Record<string, unknown> = { name };
    const before = this.errors.length;
    for (const spec of SERVICE_SCHEMA) {
      const kat: KeyPath = [...at, spec.key];
      const raw = own(table, spec.key);
      switch (spec.key) {
        case 'command':
          values.command = this.command(table, raw, kat);
          break;
        case 'env':
          values.env = this.env(raw, kat);
          break;
        case 'health': {
          const value = this.field(spec, raw, kat);
          if (typeof value === 'string' && !value.startsWith('/')) {
            this.error(kat, `expected a URL path starting with "/", e.g. "/health", found ${describeValue(value)}`);
          }
          values.health = value;
          break;
        }
        case 'workdir': {
          const value = this.field(spec, raw, kat);
          values.workdir = typeof value === 'string' ? path.resolve(this.dir, value) : undefined;
          break;
        }
        case 'runtime':
          // Folded into isolation below.
          break;
        default: {
          const value = this.field(spec, raw, kat);
          values[spec.key] = value ?? spec.default;
          if (spec.notEnforced && value !== undefined) {
            this.warn(kat, `accepted but not enforced yet: ${spec.notEnforced} (${spec.key} = ${describeValue(value)} has no effect)`);
          }
        }
      }
    }
    this.isolation(table, at, values);

    const args = values.args as string[] | undefined;
    // The original split `command` when args was empty, so `args = []` means "no args given".
    values.args = args && args.length > 0 ? args : undefined;
    args?.forEach((arg, i) => this.placeholders(arg, [...at, 'args', i]));
    if (typeof values.command === 'string' && values.args === undefined) this.commandWords(values.command, [...at, 'command']);

    for (const key of Object.keys(table)) {
      if (!SERVICE_KEYS.includes(key)) this.warnUnknown(at, key, own(table, key), SERVICE_KEYS);
    }
    return this.errors.length === before ? (values as unknown as ServiceConfig) : undefined;
  }

  private command(table: Table, raw: unknown, at: KeyPath): string | undefined {
    if (raw === undefined) {
      const typo = suggest(
        'command',
        Object.keys(table).filter((k) => !SERVICE_KEYS.includes(k)),
      );
      this.error(at, `missing required key \`command\` (the program to run)${typo ? `; \`${typo}\` looks like a misspelling of it` : ''}`);
      return undefined;
    }
    if (typeof raw !== 'string' || raw.trim() === '') {
      this.error(at, `expected a non-empty string (the program to run), found ${describeValue(raw)}`);
      return undefined;
    }
    this.placeholders(raw, at);
    return raw;
  }

  /** Splits `command` exactly as the supervisor will, so a command that cannot run is refused now. */
  private commandWords(command: string, at: KeyPath): void {
    try {
      splitCommand(command);
    } catch (err) {
      this.error(at, (err as Error).message);
    }
  }

  private placeholders(text: string, at: KeyPath): void {
    for (const name of findUnknownPlaceholders(text)) {
      const hint = name === 'socket' ? ' ({socket} is not available: instances listen on a TCP port, use {port})' : didYouMean(name, PLACEHOLDERS, (s) => `{${s}}`);
      this.error(at, `unknown placeholder {${name}}${hint}; valid placeholders are ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')} ` + '(write {{ and }} for literal braces)');
    }
  }

  private env(raw: unknown, at: KeyPath): Record<string, string> {
    const env: Record<string, string> = {};
    const table = this.table(raw, at, 'a table of string values, e.g. env = { LOG_LEVEL = "info" }') ?? {};
    for (const key of Object.keys(table)) {
      const value = own(table, key);
      const kat: KeyPath = [...at, key];
      if (key === '' || key.includes('=') || key.includes('\0')) {
        this.error(kat, `${JSON.stringify(key)} is not a usable environment variable name (empty, or contains "=" or NUL)`);
      }
      if (typeof value === 'string') {
        this.placeholders(value, kat);
        setOwn(env, key, value);
      } else if (typeof value === 'number' || typeof value === 'boolean') {
        this.error(
          kat,
          `expected a string, found the ${typeof value} ${describeValue(value)}; environment values are text, ` +
            `so quote it: ${formatKeyPath([key])} = "${describeValue(value)}"`,
        );
      } else {
        this.error(kat, `expected a string, found ${describeValue(value)}`);
      }
    }
    return env;
  }

  private isolation(table: Table, at: KeyPath, values: Record<string, unknown>): void {
    const isolationSpec = SERVICE_SCHEMA.find((s) => s.key === 'isolation') as KeySpec;
    const runtimeSpec = SERVICE_SCHEMA.find((s) => s.key === 'runtime') as KeySpec;
    const isolation = own(table, 'isolation');
    const runtime = own(table, 'runtime');
    // `isolation` was already checked by the generic loop.
    const fromRuntime = runtime === undefined ? undefined : this.field(runtimeSpec, runtime, [...at, 'runtime']);
    if (isolation !== undefined && runtime !== undefined && isolation !== runtime) {
      this.error(
        [...at, 'runtime'],
        `runtime = ${describeValue(runtime)} conflicts with isolation = ${describeValue(isolation)}; ` + 'runtime is the older name of isolation: keep only one of them',
      );
    }
    if (isolation === undefined && fromRuntime !== undefined) values.isolation = fromRuntime;
    values.isolation = (values.isolation ?? isolationSpec.default) as Isolation;
  }

  private serviceRef(value: unknown, at: KeyPath): string | undefined {
    if (typeof value !== 'string') {
      this.error(at, `expected a service name (a string), found ${describeValue(value)}`);
      return undefined;
    }
    if (!this.defined.has(value)) {
      this.error(
        at,
        `names service ${JSON.stringify(value)}, which is not defined (there is no ${serviceHeader(value)} table)` + didYouMean(value, this.defined, (s) => JSON.stringify(s)),
      );
      return undefined;
    }
    return value;
  }

  private instances(raw: unknown): Record<string, string[]> {
    const at: KeyPath = ['instances'];
    const instances: Record<string, string[]> = {};
    const table = this.table(raw, at, 'a table [instances] of SERVICE = ["id", ...]') ?? {};
    for (const service of Object.keys(table)) {
      const ids = own(table, service);
      const sat: KeyPath = [...at, service];
      const known = this.serviceRef(service, sat) !== undefined;
      if (!Array.isArray(ids)) {
        this.error(sat, `expected an array of instance ids, e.g. ${formatKeyPath([service])} = ["prod", "staging"], found ${describeValue(ids)}`);
        continue;
      }
      const list: string[] = [];
      const seen = new Map<string, number>();
      ids.forEach((id: unknown, i) => {
        const iat: KeyPath = [...sat, i];
        if (typeof id !== 'string') {
          this.error(iat, `expected an instance id (a string), found ${describeValue(id)}`);
          return;
        }
        const problem = dnsLabelProblem(id);
        const first = seen.get(id);
        if (problem) {
          this.error(iat, `instance id ${JSON.stringify(id)} ${problem}`);
        } else if (first !== undefined) {
          this.error(iat, `duplicate instance id ${JSON.stringify(id)} (already listed as ${formatKeyPath([...sat, first])})`);
        } else {
          seen.set(id, i);
          list.push(id);
        }
      });
      if (known) setOwn(instances, service, list);
    }
    return instances;
  }

  private routing(raw: unknown): RoutingConfig {
    const at: KeyPath = ['routing'];
    const routing: RoutingConfig = { default: undefined, subdomain: {}, path: {} };
    const table = this.table(raw, at, 'a table [routing]') ?? {};

    const def = own(table, 'default');
    if (def !== undefined) routing.default = this.serviceRef(def, [...at, 'default']);

    const subdomains = this.table(own(table, 'subdomain'), [...at, 'subdomain'], 'a table [routing.subdomain] of label = "service"') ?? {};
    for (const label of Object.keys(subdomains)) {
      const lat: KeyPath = [...at, 'subdomain', label];
      const problem = dnsLabelProblem(label);
      if (problem) {
        this.error(lat, `subdomain label ${JSON.stringify(label)} ${problem}`);
      } else if (this.defined.has(label)) {
        this.error(lat, `subdomain label ${JSON.stringify(label)} is also a service name, whose subdomain already routes to service ${JSON.stringify(label)}; pick another label`);
      }
      const service = this.serviceRef(own(subdomains, label), lat);
      if (service !== undefined && !problem) setOwn(routing.subdomain, label, service);
    }

    const prefixes = this.table(own(table, 'path'), [...at, 'path'], 'a table [routing.path] of "/prefix" = "service"') ?? {};
    for (const prefix of Object.keys(prefixes)) {
      const pat: KeyPath = [...at, 'path', prefix];
      const ok = prefix.startsWith('/');
      if (!ok) this.error(pat, `path prefix ${JSON.stringify(prefix)} must start with "/", e.g. ${JSON.stringify(`/${prefix}`)}`);
      const service = this.serviceRef(own(prefixes, prefix), pat);
      if (service !== undefined && ok) setOwn(routing.path, prefix, service);
    }

    for (const key of Object.keys(table)) {
      if (!ROUTING_KEYS.includes(key)) this.warnUnknown(at, key, own(table, key), ROUTING_KEYS);
    }
    return routing;
  }
}

/** The quote character left open at the end of a shell-style command line, if any. */
// Issues without a line go last; sort() is stable, so same-line issues keep the order they were found in.
function byLine(a: ConfigIssue, b: ConfigIssue): number {
  if (a.line === b.line) return 0;
  if (a.line === undefined) return 1;
  if (b.line === undefined) return -1;
  return a.line - b.line;
}

/**
 * Checks parsed TOML (`raw`) against the schema; `source` says where its keys are (the index
 * parsing made, or the text it came from) and `file` its path (for messages; relative paths in the config resolve against its folder).
 * Throws ConfigError listing every error, sorted by line.
 */
export function validateConfig(raw: unknown, source: string | SourceIndex, file: string): ValidationResult {
  const v = new Validator(source, file);
  const config = v.run(raw);
  if (v.errors.length > 0) throw new ConfigError([...v.errors].sort(byLine));
  return { config, warnings: [...v.warnings].sort(byLine) };
}
