// What the supervisor's operations throw, for callers (the API, the CLI) to tell apart.
import { DomainError } from '../util/domain-error.js';

export class SpawnError extends DomainError<'spawn_failed'> {
  constructor(
    readonly instance: string,
    message: string,
    readonly logTail: string[] = [],
  ) {
    super('spawn_failed', logTail.length ? `${message}\nlast output of ${instance}:\n  ${logTail.join('\n  ')}` : message);
    this.name = 'SpawnError';
  }
}

export class UnknownServiceError extends DomainError<'unknown_service'> {
  constructor(service: string, known: string[]) {
    super('unknown_service', `service "${service}" is not defined in the config (defined: ${known.join(', ') || 'none'})`);
    this.name = 'UnknownServiceError';
  }
}

export class UnknownInstanceError extends DomainError<'unknown_instance'> {
  constructor(key: string) {
    super('unknown_instance', `instance ${key} does not exist`);
    this.name = 'UnknownInstanceError';
  }
}
