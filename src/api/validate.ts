// Input checks shared by the routes. Each says exactly what was wrong, and runs before anything
// is changed: a request that fails here has no effect.
import type { Context } from 'hono';
import { dnsLabelProblem, parseKey, type InstanceKey } from '../util/instance-key.js';
import { HttpError } from './errors.js';

export type JsonObject = Record<string, unknown>;

/** The request body as a JSON object. 400 if it is missing, not JSON, or not an object. */
export async function readJsonObject(c: Context, allowed: readonly string[]): Promise<JsonObject> {
  const text = await c.req.text();
  if (text.trim() === '') throw new HttpError(400, `request body is empty; expected a JSON object with ${allowed.join(', ')}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, `request body must be a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'null' : typeof value}`);
  }
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new HttpError(400, `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${allowed.join(', ')}`);
  }
  return value as JsonObject;
}

function describe(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

/** A required (or optional) string field that must be a DNS label. */
export function labelField(body: JsonObject, name: string, what: string): string {
  const v = body[name];
  if (typeof v !== 'string') throw new HttpError(400, `field "${name}" (${what}) must be a string, got ${describe(v)}`);
  const problem = dnsLabelProblem(v);
  if (problem) throw new HttpError(400, `field "${name}" (${what}) ${problem}; got ${JSON.stringify(v)}`);
  return v;
}

/** An optional integer field within [min, max]: 400 for the wrong type, 422 out of range. */
export function intField(body: JsonObject, name: string, min: number, max: number, fallback?: number): number {
  const v = body[name];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new HttpError(400, `field "${name}" must be an integer, got ${describe(v)}`);
  if (v < min || v > max) throw new HttpError(422, `field "${name}" must be between ${min} and ${max}, got ${v}`);
  return v;
}

export function optionalStringField(body: JsonObject, name: string, maxLength: number): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new HttpError(400, `field "${name}" must be a string, got ${describe(v)}`);
  if (v.length > maxLength) throw new HttpError(422, `field "${name}" is ${v.length} characters long; at most ${maxLength} are allowed`);
  return v;
}

/** The `:instance` path parameter ("service:id"). */
export function instanceParam(c: Context): InstanceKey {
  const raw = c.req.param('instance') ?? '';
  try {
    return parseKey(raw);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}

/** An optional query parameter that must be a DNS label. */
export function labelQuery(c: Context, name: string): string | undefined {
  const v = c.req.query(name);
  if (v === undefined || v === '') return undefined;
  const problem = dnsLabelProblem(v);
  if (problem) throw new HttpError(400, `query parameter "${name}" ${problem}; got ${JSON.stringify(v)}`);
  return v;
}

/** An optional integer query parameter within [min, max] (400 otherwise). */
export function intQuery(c: Context, name: string, min: number, max: number): number | undefined {
  const v = c.req.query(name);
  if (v === undefined || v === '') return undefined;
  const n = /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new HttpError(400, `query parameter "${name}" must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * A point in time: epoch milliseconds, RFC 3339 / ISO 8601, or a duration ago ("30s", "15m",
 * "2h", "7d").
 */
export function timeQuery(c: Context, name: string, now: number): number | undefined {
  const v = c.req.query(name);
  if (v === undefined || v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const ago = /^(\d+)(s|m|h|d)$/.exec(v);
  if (ago) return now - Number(ago[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'];
  const parsed = Date.parse(v);
  if (/^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(parsed)) return parsed;
  throw new HttpError(400, `query parameter "${name}" must be epoch milliseconds, an ISO 8601 time or a duration like 15m, 2h, 7d; got ${JSON.stringify(v)}`);
}
