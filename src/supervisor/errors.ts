// What the supervisor's operations throw, for callers (the API, the CLI) to tell apart.

export class SpawnError extends Error {
  constructor(
    readonly instance: string,
    message: string,
    readonly logTail: string[] = [],
  ) {
    super(logTail.length ? `${message}\nlast output of ${instance}:\n  ${logTail.join('\n  ')}` : message);
    this.name = 'SpawnError';
  }
}

export class UnknownServiceError extends Error {
  constructor(service: string, known: string[]) {
    super(`service "${service}" is not defined in the config (defined: ${known.join(', ') || 'none'})`);
    this.name = 'UnknownServiceError';
  }
}

export class UnknownInstanceError extends Error {
  constructor(key: string) {
    super(`instance ${key} does not exist`);
    this.name = 'UnknownInstanceError';
  }
}
