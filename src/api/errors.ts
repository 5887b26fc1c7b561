// Every failure the API reports is `{"error": "..."}` with a status that says whose fault it was.
// Domain errors carry a kind (util/domain-error.ts); each kind maps to one status here, and the
// table must name every kind (the compiler checks it). Anything else is a 500.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DomainError, type ErrorKind } from '../util/domain-error.js';

/** Thrown by handlers and validators; becomes `{"error": message}` with `status`. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const KIND_STATUS: { readonly [K in ErrorKind]: ContentfulStatusCode } = {
  not_found: 404,
  conflict: 409,
  invalid: 422,
  unavailable: 503,
  timeout: 504,
  unknown_service: 404,
  unknown_instance: 404,
  duplicate_instance: 409,
  port_in_use: 409,
  // Not the caller's fault and not a bug: the server is full until the range is widened or
  // instances are stopped (the message says which range and what to do).
  port_range_exhausted: 503,
  // A process that would not start is the service being unavailable, not a server bug.
  spawn_failed: 503,
  // A rolling restart stopped at an instance that did not come back healthy: the service is
  // partly unavailable, and the message says which instance failed and which were restarted.
  roll_stopped: 503,
  invalid_log_search: 400,
};

export function statusOf(err: unknown): ContentfulStatusCode {
  if (err instanceof HttpError) return err.status;
  if (err instanceof DomainError) {
    const kind: ErrorKind = (err as DomainError).kind;
    return KIND_STATUS[kind];
  }
  return 500;
}

export function errorResponse(c: Context, err: unknown): Response {
  const status = statusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof HttpError) for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
  return c.json({ error: message }, status);
}
