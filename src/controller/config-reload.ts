// Live config reload: the config file is re-read (on an edit, SIGHUP, or before a roll), and a
// valid file is applied as a difference against the running config; an invalid one changes
// nothing and is remembered, so /health reports the config as degraded until a valid edit arrives.
//
// What applies how (docs/config-reload.md is the user-facing version):
//   - applied at once: new services, removed services without instances, [routing], settings
//     read at use (health/backoff/restart/stop/retention), per-service settings tenement applies
//     itself (idle_timeout, request_timeout, startup_timeout, restart, storage_persist), and
//     `[instances]` additions (spawned);
//   - applied when an instance next starts (restart, wake, crash) or by a roll: the process
//     definition (command, args, env, workdir, health, limits; see service-hash.ts);
//   - refused, whole edit: data_dir or the port range changed (a restart is needed), or a service
//     removed while it still has instances.
import fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { ControlPlaneError, type RollResponse, type ServiceInstanceJson, type ServiceJson, type ServiceRoller } from '../api/contract.js';
import { ConfigError, formatIssue } from '../config/errors.js';
import { parseConfigText } from '../config/load.js';
import { SETTINGS_SCHEMA } from '../config/schema.js';
import { indexSource, type SourceIndex } from '../config/locate.js';
import { processDefinition, serviceHash } from '../config/service-hash.js';
import type { Config, ConfigIssue, ServiceConfig, Settings } from '../config/types.js';
import { ConfigWatcher } from '../config/watch.js';
import type { Router } from '../routing/router.js';
import type { AuditEvent, InstanceRecord } from '../store/types.js';
import { UnknownServiceError, type Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../util/logger.js';
import { formatKey, type InstanceKey } from '../util/instance-key.js';

/** The audit actor of every change a reload makes. */
export const RELOAD_ACTOR = 'config-reload';

export interface ConfigReloaderOptions {
  /** The config file (the one the controller started from). */
  file: string;
  /** `--data-dir`: overrides settings.data_dir in every version of the file, as at start. */
  dataDir?: string | undefined;
  /** The running config. */
  current: () => Config;
  /** Makes `config` the running config for everything that reads it (router, API, wake endpoint...). The supervisor is updated by the reloader. */
  apply: (config: Config) => void;
  supervisor: Supervisor;
  router?: Router | undefined;
  audit?: { record(event: AuditEvent): number } | undefined;
  log: Logger;
  now?: () => number;
  /** Quiet period of the file watcher. Default 150 ms. */
  debounceMs?: number;
}

export type ReloadOutcome = 'applied' | 'unchanged' | 'invalid' | 'refused';

export interface ReloadResult {
  outcome: ReloadOutcome;
  reason: string;
  /** One line per change applied (empty unless 'applied'). */
  changes: string[];
  /** 'invalid' / 'refused': the problems, as `file:line: key: message`. */
  problems: string[];
  /** Instances spawned because `[instances]` gained them, and those that failed to start. */
  spawned: string[];
  spawnFailures: Array<{ instance: string; error: string }>;
}

/** What a valid new config would change, or why it cannot be applied while running. */
export interface ReloadPlan {
  /** Non-empty: the edit is refused as a whole. */
  refusals: ConfigIssue[];
  changes: string[];
  /** `[instances]` entries added by the edit that have no running record. */
  spawn: InstanceKey[];
  /** Services whose process definition changed (their instances need a restart to pick it up). */
  redefined: string[];
}

// Per-service keys tenement applies to running instances itself; everything in the process
// definition (service-hash.ts) needs a restart instead.
const LIVE_SERVICE_KEYS = ['idle_timeout', 'request_timeout', 'startup_timeout', 'restart', 'storage_persist', 'tenant_spawn'] as const satisfies readonly (keyof ServiceConfig)[];

const FROZEN_SETTINGS = ['data_dir', 'port_range_start', 'port_range_end'] as const satisfies readonly (keyof Settings)[];

const show = (v: unknown): string => (v === undefined ? '(unset)' : typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v));

/**
 * Compares the running config with a valid new one. Pure: `records` is the supervisor's state and
 * `source` the new file's text (to point refusals at their line).
 */
export function planReload(prev: Config, next: Config, records: InstanceRecord[], source: string): ReloadPlan {
  const at: SourceIndex = indexSource(source);
  const issue = (key: string, message: string, exact = false): ConfigIssue => ({ file: next.file, line: exact ? at.exact(key) : at.line(key), key, message });
  const refusals: ConfigIssue[] = [];
  const changes: string[] = [];

  // Settings.
  const s0 = prev.settings;
  const s1 = next.settings;
  if (s0.data_dir !== s1.data_dir) {
    refusals.push(
      issue(
        'settings.data_dir',
        `data_dir cannot change while tenement runs (running: ${s0.data_dir}, file: ${s1.data_dir}); every instance, the database and the Caddy state live there. Restart the controller to use the new one (move the data first), or undo the edit`,
      ),
    );
  }
  if (s0.port_range_start !== s1.port_range_start || s0.port_range_end !== s1.port_range_end) {
    const key = s0.port_range_start !== s1.port_range_start ? 'settings.port_range_start' : 'settings.port_range_end';
    refusals.push(
      issue(
        key,
        `the port range cannot change while tenement runs (running: ${s0.port_range_start}-${s0.port_range_end}, file: ${s1.port_range_start}-${s1.port_range_end}); instances keep the ports they were given. Restart the controller to apply it, or undo the edit`,
      ),
    );
  }
  for (const key of Object.keys(s1) as (keyof Settings)[]) {
    if ((FROZEN_SETTINGS as readonly string[]).includes(key)) continue;
    if (isDeepStrictEqual(s0[key], s1[key])) continue;
    const secret = SETTINGS_SCHEMA.find((k) => k.key === key)?.secret === true;
    changes.push(secret ? `settings.${key}: changed` : `settings.${key}: ${show(s0[key])} -> ${show(s1[key])}`);
  }

  // Services.
  const byService = new Map<string, InstanceRecord[]>();
  for (const r of records) byService.set(r.service, [...(byService.get(r.service) ?? []), r]);
  const redefined: string[] = [];
  for (const name of Object.keys(prev.services)) {
    if (next.services[name]) continue;
    const left = byService.get(name) ?? [];
    if (left.length > 0) {
      const list = left.map((r) => `${formatKey(r)} (${r.observed})`).join(', ');
      const stops = left.map((r) => `ten stop ${formatKey(r)}`).join('; ');
      refusals.push({
        file: next.file,
        line: undefined,
        key: `service.${name}`,
        message: `service "${name}" was removed but still has instances: ${list}. Stop them first (${stops}), then save the file again; or put [service.${name}] back`,
      });
    } else {
      changes.push(`service ${name} removed`);
    }
  }
  for (const [name, svc] of Object.entries(next.services)) {
    const old = prev.services[name];
    if (!old) {
      changes.push(`service ${name} added`);
      continue;
    }
    const d0 = processDefinition(prev, old);
    const d1 = processDefinition(next, svc);
    const changed = Object.keys(d1).filter((k) => !isDeepStrictEqual(d0[k], d1[k]));
    if (changed.length) {
      redefined.push(name);
      changes.push(`service ${name}: ${changed.join(', ')} changed (applies as its instances restart; \`ten roll ${name}\` restarts them now)`);
    }
    for (const k of LIVE_SERVICE_KEYS) {
      if (!isDeepStrictEqual(old[k], svc[k])) changes.push(`service ${name}.${k}: ${show(old[k])} -> ${show(svc[k])}`);
    }
  }

  // [instances]: additions are spawned; removals stop nothing (the instance is still there, and
  // still restored at the next start, until someone stops it).
  const spawn: InstanceKey[] = [];
  for (const [service, ids] of Object.entries(next.instances)) {
    const before = new Set(prev.instances[service] ?? []);
    for (const id of ids) {
      if (before.has(id)) continue;
      const record = records.find((r) => r.service === service && r.id === id);
      if (record && record.desired !== 'stopped') {
        changes.push(`instances: ${service}:${id} declared (already exists, ${record.observed})`);
        continue;
      }
      spawn.push({ service, id });
      changes.push(`instances: ${service}:${id} added (spawning)`);
    }
  }
  for (const [service, ids] of Object.entries(prev.instances)) {
    const after = new Set(next.instances[service] ?? []);
    for (const id of ids) {
      if (after.has(id)) continue;
      const exists = records.some((r) => r.service === service && r.id === id);
      changes.push(`instances: ${service}:${id} no longer declared${exists ? ` (still running; \`ten stop ${service}:${id}\` removes it)` : ''}`);
    }
  }

  // [routing].
  const r0 = prev.routing;
  const r1 = next.routing;
  if (r0.default !== r1.default) changes.push(`routing.default: ${show(r0.default)} -> ${show(r1.default)}`);
  for (const table of ['subdomain', 'path'] as const) {
    const a = r0[table];
    const b = r1[table];
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (a[k] === b[k]) continue;
      changes.push(`routing.${table} ${show(k)}: ${a[k] === undefined ? 'added' : show(a[k])} -> ${b[k] === undefined ? 'removed' : show(b[k])}`);
    }
  }

  return { refusals, changes, spawn, redefined };
}

/** What a roll does with one instance, given the service's current hash. */
export function rollAction(r: InstanceRecord, hash: string): { roll: ServiceInstanceJson['roll']; reason: string | null } {
  if (r.configHash === hash) return { roll: 'none', reason: null };
  const key = formatKey(r);
  switch (r.observed) {
    case 'running':
      return { roll: 'restart', reason: null };
    case 'stopped':
      return r.desired === 'running'
        ? { roll: 'restart', reason: 'stopped though it should run: it is started with the current definition' }
        : { roll: 'skip', reason: 'stopped' };
    case 'asleep':
      return { roll: 'skip', reason: 'asleep: it starts with the current definition when woken' };
    case 'backoff':
      return { roll: 'skip', reason: 'waiting to restart after a failure: its next start uses the current definition' };
    case 'failed':
      return { roll: 'skip', reason: `failed: \`ten restart ${key}\` starts it with the current definition` };
    default:
      return { roll: 'skip', reason: `${r.observed}: run the roll again once it has settled` };
  }
}

/** Thrown when a roll stops on an instance that did not come back healthy. */
export class RollError extends Error {
  constructor(
    message: string,
    readonly result: RollResponse & { failed: string },
  ) {
    super(message);
    this.name = 'RollError';
  }
}

export class ConfigReloader implements ServiceRoller {
  private readonly file: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private watcher: ConfigWatcher | undefined;
  /** The last reload's problems; set while the file on disk is not what runs. */
  private failure: { at: number; outcome: 'invalid' | 'refused'; problems: string[] } | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private queued: { promise: Promise<ReloadResult> } | undefined;
  private readonly rolling = new Set<string>();
  private closed = false;
  private reloads = 0;

  constructor(private readonly opts: ConfigReloaderOptions) {
    this.file = opts.file;
    this.log = opts.log.child({ component: 'config-reload' });
    this.now = opts.now ?? Date.now;
  }

  /** Starts watching the file; resolves when edits from now on are seen (and catches up with any made since the config was loaded). */
  async watch(): Promise<void> {
    if (this.watcher || this.closed) return;
    this.watcher = new ConfigWatcher({
      file: this.file,
      debounceMs: this.opts.debounceMs,
      log: this.log,
      onChange: (reason) => void this.reload(reason),
    });
    await this.watcher.start();
    await this.reload('watch started');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.watcher?.close();
    this.watcher = undefined;
  }

  /** For the controller's /health `parts.config`. */
  status(): { ok: boolean; detail: string } {
    if (!this.failure) return { ok: true, detail: this.opts.current().file };
    const what = this.failure.outcome === 'invalid' ? 'invalid config edit' : 'config edit refused';
    return {
      ok: false,
      detail: `${what} (${new Date(this.failure.at).toISOString()}); still running the previous config: ${this.failure.problems.join('; ')}`,
    };
  }

  /** Completed reloads that read the file (any outcome). */
  get count(): number {
    return this.reloads;
  }

  /**
   * Re-reads the file and applies it. Reloads run one at a time; requests made while one runs
   * share a single follow-up reload (which reads the file as it is then). Never rejects (a
   * SIGHUP handler or the watcher has nobody to hand an error to): an unexpected failure is
   * logged and reported like an invalid edit.
   */
  reload(reason: string): Promise<ReloadResult> {
    if (this.queued) return this.queued.promise;
    const entry: { promise: Promise<ReloadResult> } = { promise: undefined as never };
    entry.promise = this.chain.then(() => {
      if (this.queued === entry) this.queued = undefined;
      return this.reloadNow(reason).catch((err: Error) => {
        this.log.error('config reload failed', { file: this.file, reason, error: err.message });
        const problems = [`${this.file}: reload failed: ${err.message}`];
        this.failure = { at: this.now(), outcome: 'invalid', problems };
        return { outcome: 'invalid', reason, changes: [], problems, spawned: [], spawnFailures: [] } satisfies ReloadResult;
      });
    });
    this.queued = entry;
    this.chain = entry.promise;
    return entry.promise;
  }

  private async reloadNow(reason: string): Promise<ReloadResult> {
    const result: ReloadResult = { outcome: 'unchanged', reason, changes: [], problems: [], spawned: [], spawnFailures: [] };
    if (this.closed) return result;
    const prev = this.opts.current();
    let source: string;
    let next: Config;
    let warnings: ConfigIssue[];
    try {
      try {
        source = fs.readFileSync(this.file, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' ? 'the file does not exist (deleted or being replaced?)' : (err as Error).message;
        throw new ConfigError([{ file: this.file, line: undefined, key: '', message: `cannot read the config file: ${why}` }]);
      }
      ({ config: next, warnings } = parseConfigText(source, this.file));
    } catch (err) {
      this.reloads++;
      if (!(err instanceof ConfigError)) throw err;
      return this.refuse(result, 'invalid', err.issues);
    }
    this.reloads++;
    if (this.opts.dataDir) next.settings.data_dir = this.opts.dataDir;

    const plan = planReload(prev, next, this.opts.supervisor.list(), source);
    if (plan.refusals.length) return this.refuse(result, 'refused', plan.refusals);

    const recovered = this.failure !== undefined;
    this.failure = undefined;
    this.opts.apply(next);
    this.opts.supervisor.updateConfig(next);
    if (plan.changes.length === 0) {
      if (recovered) this.log.info('config file is valid again; the running config already matches it', { file: this.file, reason });
      else this.log.debug('config file read; nothing changed', { file: this.file, reason });
      return result;
    }

    result.outcome = 'applied';
    result.changes = plan.changes;
    for (const w of warnings) this.log.warn(formatIssue(w), { file: w.file, line: w.line, key: w.key });
    this.log.info(`config reloaded: ${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'}`, {
      file: this.file,
      reason,
      changes: plan.changes.join('; '),
    });
    this.audit('config-reload', { ok: true, reason, changes: plan.changes });

    // Routes first (new services, [routing], route-relevant service keys), so a new route and
    // the instances behind it appear as soon as each can.
    await this.opts.router?.pushNow().catch((err: Error) => this.log.warn('routes not pushed after reload; retrying in the background', { error: err.message }));

    for (const name of plan.redefined) {
      const hash = serviceHash(next, next.services[name]!);
      const stale = this.opts.supervisor.list({ service: name }).filter((r) => r.configHash !== hash);
      if (stale.length) {
        this.log.info(`${stale.length} instance(s) of ${name} run the previous definition until they restart; \`ten roll ${name}\` restarts them one at a time`, {
          service: name,
          instances: stale.map(formatKey).join(', '),
        });
      }
    }

    await Promise.all(
      plan.spawn.map(async (key) => {
        try {
          await this.opts.supervisor.spawn(key, { keepOnFailure: true });
          result.spawned.push(formatKey(key));
        } catch (err) {
          const error = (err as Error).message.split('\n')[0] ?? '';
          result.spawnFailures.push({ instance: formatKey(key), error });
          this.log.error('declared instance failed to start', { instance: formatKey(key), error });
        }
      }),
    );
    return result;
  }

  private refuse(result: ReloadResult, outcome: 'invalid' | 'refused', issues: ConfigIssue[]): ReloadResult {
    const problems = issues.map(formatIssue);
    const same = this.failure && isDeepStrictEqual(this.failure.problems, problems);
    this.failure = { at: this.now(), outcome, problems };
    result.outcome = outcome;
    result.problems = problems;
    // The same broken file read again (a touch, a SIGHUP) is not news.
    if (same) return result;
    this.log.error(
      outcome === 'invalid'
        ? `config edit is invalid: nothing changed, still running the previous config (${problems.length} problem${problems.length === 1 ? '' : 's'})`
        : 'config edit refused: it cannot be applied while tenement runs; nothing changed',
      { file: this.file, reason: result.reason },
    );
    for (const i of issues) this.log.error(formatIssue(i), { file: i.file, line: i.line ?? null, key: i.key || null });
    this.audit('config-reload', { ok: false, outcome, reason: result.reason, problems });
    return result;
  }

  private audit(action: string, detail: Record<string, unknown>): void {
    if (!this.opts.audit) return;
    try {
      this.opts.audit.record({ at: this.now(), actor: RELOAD_ACTOR, action, target: this.file, detail: JSON.stringify(detail) });
    } catch (err) {
      this.log.error('cannot write audit entry', { action, error: (err as Error).message });
    }
  }

  // ---- rolling restarts -------------------------------------------------------------------------

  private serviceOf(name: string): { config: Config; service: ServiceConfig; hash: string } {
    const config = this.opts.current();
    const service = config.services[name];
    if (!service) throw new UnknownServiceError(name, Object.keys(config.services));
    return { config, service, hash: serviceHash(config, service) };
  }

  describeService(name: string): ServiceJson {
    const { hash } = this.serviceOf(name);
    const instances = this.opts.supervisor.list({ service: name }).map((r): ServiceInstanceJson => {
      const action = rollAction(r, hash);
      return {
        instance: formatKey(r),
        state: r.observed,
        desired: r.desired,
        health: r.health,
        weight: r.weight,
        config_hash: r.configHash ?? null,
        current: r.configHash === hash,
        roll: action.roll,
        reason: action.reason,
      };
    });
    return { service: name, config_hash: hash, instances, stale: instances.filter((i) => !i.current).length };
  }

  /**
   * Restarts the service's instances that run an older definition, one at a time, each until it
   * is healthy again; stops at the first that is not, leaving the rest untouched. The file is
   * re-read first, so the roll applies what is on disk, and refused if that is not valid.
   * Order: instances that serve nothing anyway (not healthy, stopped, weight 0) go first, so a
   * broken definition is found on the instance whose restart costs the least.
   */
  async rollService(name: string): Promise<RollResponse> {
    if (this.closed) throw new ControlPlaneError('unavailable', 'the controller is stopping');
    this.serviceOf(name);
    if (this.rolling.has(name)) throw new ControlPlaneError('conflict', `a roll of ${name} is already running`);
    this.rolling.add(name);
    try {
      const reloaded = await this.reload(`roll ${name}`);
      if (reloaded.outcome === 'invalid' || reloaded.outcome === 'refused') {
        throw new ControlPlaneError(
          'conflict',
          `not rolling ${name}: the config file ${reloaded.outcome === 'invalid' ? 'has errors' : 'has an edit that cannot be applied while running'}, so what runs is not what the file says. Fix it first (\`ten config\` shows the problems):\n  ${reloaded.problems.join('\n  ')}`,
        );
      }
      const { hash: startHash } = this.serviceOf(name);
      const result: RollResponse = { service: name, config_hash: startHash, restarted: [], up_to_date: [], skipped: [] };
      const attempted = new Set<string>();
      const serving = (r: InstanceRecord) => (r.observed === 'running' && r.health === 'healthy' && r.weight > 0 ? 1 : 0);
      for (;;) {
        if (this.closed) throw new ControlPlaneError('unavailable', `the controller is stopping; roll of ${name} interrupted after ${result.restarted.length} restart(s)`);
        // Looked up again each round: a reload during the roll moves its target.
        const { hash } = this.serviceOf(name);
        result.config_hash = hash;
        const candidates = this.opts.supervisor
          .list({ service: name })
          .filter((r) => !attempted.has(formatKey(r)) && rollAction(r, hash).roll === 'restart')
          .sort((a, b) => serving(a) - serving(b) || a.weight - b.weight || a.id.localeCompare(b.id));
        const next = candidates[0];
        if (!next) break;
        const key = formatKey(next);
        attempted.add(key);
        this.log.info('roll: restarting instance with the current definition', { instance: key, from: next.configHash ?? 'unknown', to: hash });
        try {
          const after = await this.opts.supervisor.restart(next);
          if (after.observed !== 'running') throw new Error(`${key} is ${after.observed} after the restart`);
        } catch (err) {
          const error = (err as Error).message;
          const left = this.opts.supervisor
            .list({ service: name })
            .filter((r) => !attempted.has(formatKey(r)) && rollAction(r, hash).roll === 'restart')
            .map(formatKey);
          this.finishRoll(name, result);
          const message =
            `roll of ${name} stopped: ${key} did not come back healthy with the new definition: ${error}\n` +
            `restarted before it: ${result.restarted.join(', ') || 'none'}; not touched (still on the previous definition): ${left.join(', ') || 'none'}.\n` +
            `Fix the service in the config (or undo the edit) and run \`ten roll ${name}\` again; ${key} stays down until then (\`ten restart ${key}\` retries it).`;
          this.log.error('roll stopped at a failed instance', { service: name, instance: key, error: error.split('\n')[0] ?? '', notTouched: left.join(', ') });
          throw new RollError(message, { ...result, failed: key });
        }
        result.restarted.push(key);
        this.log.info('roll: instance healthy with the current definition', { instance: key });
      }
      this.finishRoll(name, result);
      this.log.info(`roll of ${name} done`, { restarted: result.restarted.join(', ') || 'none', skipped: result.skipped.length });
      return result;
    } finally {
      this.rolling.delete(name);
    }
  }

  private finishRoll(name: string, result: RollResponse): void {
    const restarted = new Set(result.restarted);
    result.up_to_date = [];
    result.skipped = [];
    for (const r of this.opts.supervisor.list({ service: name })) {
      const key = formatKey(r);
      if (restarted.has(key)) continue;
      const action = rollAction(r, result.config_hash);
      if (action.roll === 'none') result.up_to_date.push(key);
      else if (action.roll === 'skip') result.skipped.push({ instance: key, reason: action.reason ?? r.observed });
    }
  }
}
