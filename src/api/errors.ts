// Every failure the API reports is `{"error": "..."}` with a status that says whose fault it was.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { LogSearchError } from '../store/log-store.js';
import { ControlPlaneError } from './contract.js';

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

const KIND_STATUS: Record<ControlPlaneError['kind'], ContentfulStatusCode> = {
  not_found: 404,
  conflict: 409,
  invalid: 422,
  unavailable: 503,
  timeout: 504,
};

// Errors the supervisor and stores throw today, matched by name so the API does not import the
// controller's internals (the contract stays the only coupling).
const NAME_STATUS: Record<string, ContentfulStatusCode> = {
  UnknownServiceError: 404,
  UnknownInstanceError: 404,
  DuplicateInstanceError: 409,
  PortInUseError: 409,
  TimeoutError: 504,
  // A rolling restart stopped at an instance that did not come back healthy: the service is
  // partly unavailable, and the message says which instance failed and which were restarted.
  RollError: 503,
  SpawnError: 503,
};

export function statusOf(err: unknown): ContentfulStatusCode {
  if (err instanceof HttpError) return err.status;
  if (err instanceof ControlPlaneError) return KIND_STATUS[err.kind];
  if (err instanceof LogSearchError) return 400;
  if (err instanceof Error && NAME_STATUS[err.name] !== undefined) return NAME_STATUS[err.name]!;
  return 500;
}

export function errorResponse(c: Context, err: unknown): Response {
  const status = statusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof HttpError) for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
  return c.json({ error: message }, status);
}
