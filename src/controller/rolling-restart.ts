// Rolling restarts: a service's instances that run an older definition than the running config
// (their config hash differs) are restarted one at a time onto the current one. What a roll does
// with each instance is a pure decision (rollAction); the results are plain objects that the API
// turns into JSON (src/api/service-json.ts).
import type { RollAction, RollOutcome, ServiceRoller, ServiceRollPlan } from '../api/contract.js';
import { ControlPlaneError } from '../api/contract.js';
import { serviceHash } from '../config/service-hash.js';
import type { Config, ServiceConfig } from '../config/types.js';
import type { InstanceRecord } from '../store/types.js';
import { UnknownServiceError, type Supervisor } from '../supervisor/supervisor.js';
import { formatKey } from '../util/instance-key.js';
import { DomainError } from '../util/domain-error.js';
import type { Logger } from '../util/logger.js';
import type { ReloadResult } from './config-reload.js';

/** What a roll does with one instance, given the service's current hash. */
export function rollAction(r: InstanceRecord, hash: string): { roll: RollAction; reason: string | null } {
  if (r.configHash === hash) return { roll: 'none', reason: null };
  const key = formatKey(r);
  switch (r.observed) {
    case 'running':
      return { roll: 'restart', reason: null };
    case 'stopped':
      return r.desired === 'running' ? { roll: 'restart', reason: 'stopped though it should run: it is started with the current definition' } : { roll: 'skip', reason: 'stopped' };
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
export class RollError extends DomainError<'roll_stopped'> {
  constructor(
    message: string,
    readonly result: RollOutcome & { failed: string },
  ) {
    super('roll_stopped', message);
    this.name = 'RollError';
  }
}

export interface RollingRestartsDeps {
  /** The running config. */
  current: () => Config;
  supervisor: Supervisor;
  /** Re-reads the config file (the reloader's queue): a roll applies what is on disk. */
  reload: (reason: string) => Promise<ReloadResult>;
  /** True once the controller is stopping. */
  closed: () => boolean;
  log: Logger;
}

export class RollingRestarts implements ServiceRoller {
  private readonly rolling = new Set<string>();
  private readonly log: Logger;

  constructor(private readonly opts: RollingRestartsDeps) {
    this.log = opts.log.child({ component: 'config-reload' });
  }

  private serviceOf(name: string): { config: Config; service: ServiceConfig; hash: string } {
    const config = this.opts.current();
    const service = config.services[name];
    if (!service) throw new UnknownServiceError(name, Object.keys(config.services));
    return { config, service, hash: serviceHash(config, service) };
  }

  describeService(name: string): ServiceRollPlan {
    const { hash } = this.serviceOf(name);
    const instances = this.opts.supervisor.list({ service: name }).map((record) => ({ record, current: record.configHash === hash, ...rollAction(record, hash) }));
    return { service: name, hash, instances };
  }

  /**
   * Restarts the service's instances that run an older definition, one at a time, each until it
   * is healthy again; stops at the first that is not, leaving the rest untouched. The file is
   * re-read first, so the roll applies what is on disk, and refused if that is not valid.
   * Order: instances that serve nothing anyway (not healthy, stopped, weight 0) go first, so a
   * broken definition is found on the instance whose restart costs the least.
   */
  async rollService(name: string): Promise<RollOutcome> {
    if (this.opts.closed()) throw new ControlPlaneError('unavailable', 'the controller is stopping');
    this.serviceOf(name);
    if (this.rolling.has(name)) throw new ControlPlaneError('conflict', `a roll of ${name} is already running`);
    this.rolling.add(name);
    try {
      const reloaded = await this.opts.reload(`roll ${name}`);
      if (reloaded.outcome === 'invalid' || reloaded.outcome === 'refused') {
        throw new ControlPlaneError(
          'conflict',
          `not rolling ${name}: the config file ${reloaded.outcome === 'invalid' ? 'has errors' : 'has an edit that cannot be applied while running'}, so what runs is not what the file says. Fix it first (\`ten config\` shows the problems):\n  ${reloaded.problems.join('\n  ')}`,
        );
      }
      const { hash: startHash } = this.serviceOf(name);
      const result: RollOutcome = { service: name, hash: startHash, restarted: [], upToDate: [], skipped: [] };
      const attempted = new Set<string>();
      const serving = (r: InstanceRecord) => (r.observed === 'running' && r.health === 'healthy' && r.weight > 0 ? 1 : 0);
      for (;;) {
        if (this.opts.closed()) throw new ControlPlaneError('unavailable', `the controller is stopping; roll of ${name} interrupted after ${result.restarted.length} restart(s)`);
        // Looked up again each round: a reload during the roll moves its target.
        const { hash } = this.serviceOf(name);
        result.hash = hash;
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

  private finishRoll(name: string, result: RollOutcome): void {
    const restarted = new Set(result.restarted);
    result.upToDate = [];
    result.skipped = [];
    for (const r of this.opts.supervisor.list({ service: name })) {
      const key = formatKey(r);
      if (restarted.has(key)) continue;
      const action = rollAction(r, result.hash);
      if (action.roll === 'none') result.upToDate.push(key);
      else if (action.roll === 'skip') result.skipped.push({ instance: key, reason: action.reason ?? r.observed });
    }
  }
}
