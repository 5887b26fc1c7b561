// Errors that say what kind of failure they are, so that whoever reports them (the API's HTTP
// status, src/api/errors.ts) decides once per kind, checked by the compiler, instead of matching
// class names. A new kind added here does not compile until it is mapped.

export type ErrorKind =
  // Generic kinds a ControlPlane method chooses explicitly (ControlPlaneError).
  | 'not_found'
  | 'conflict'
  | 'invalid'
  | 'unavailable'
  | 'timeout'
  // What the supervisor and the stores throw.
  | 'unknown_service'
  | 'unknown_instance'
  | 'duplicate_instance'
  | 'port_in_use'
  | 'port_range_exhausted'
  | 'spawn_failed'
  | 'roll_stopped'
  | 'invalid_log_search';

export class DomainError<K extends ErrorKind = ErrorKind> extends Error {
  constructor(
    readonly kind: K,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
