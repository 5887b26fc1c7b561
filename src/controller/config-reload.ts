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
//
// This file is the watch and the reload queue, and applies a plan; the plan itself (a pure diff) is
// reload-plan.ts, rolling restarts onto a new definition are rolling-restart.ts.
import fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, formatIssue } from '../config/errors.js';
import { parseConfigText } from '../config/load.js';
import { serviceHash } from '../config/service-hash.js';
import type { Config, ConfigIssue } from '../config/types.js';
import { ConfigWatcher } from '../config/watch.js';
import type { Router } from '../routing/router.js';
import type { AuditEvent } from '../store/types.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../util/logger.js';
import { formatKey } from '../util/instance-key.js';
import { planReload } from './reload-plan.js';

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

export class ConfigReloader {
  private readonly file: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private watcher: ConfigWatcher | undefined;
  /** The last reload's problems; set while the file on disk is not what runs. */
  private failure: { at: number; outcome: 'invalid' | 'refused'; problems: string[] } | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private queued: { promise: Promise<ReloadResult> } | undefined;
  private stopped = false;
  private reloads = 0;

  constructor(private readonly opts: ConfigReloaderOptions) {
    this.file = opts.file;
    this.log = opts.log.child({ component: 'config-reload' });
    this.now = opts.now ?? Date.now;
  }

  /** Starts watching the file; resolves when edits from now on are seen (and catches up with any made since the config was loaded). */
  async watch(): Promise<void> {
    if (this.watcher || this.stopped) return;
    this.watcher = new ConfigWatcher({
      file: this.file,
      debounceMs: this.opts.debounceMs,
      log: this.log,
      onChange: (reason) => void this.reload(reason),
    });
    await this.watcher.start();
    await this.reload('watch started');
  }

  /** True once close() was called: nothing is reloaded (or rolled) any more. */
  get closed(): boolean {
    return this.stopped;
  }

  async close(): Promise<void> {
    this.stopped = true;
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
    if (this.stopped) return result;
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
}
