// The filters shared by GET /api/logs and GET /api/logs/stream, parsed once, applied to the store
// query or (for live lines) in memory.
import type { Context } from 'hono';
import type { LogLevel, LogQuery } from '../store/log-store.js';
import type { LogLine } from '../store/types.js';
import type { ApiEnv } from './env.js';
import { HttpError } from './errors.js';
import { labelQuery, timeQuery } from './validate.js';

/** The filters of GET /api/logs and its stream: a log query without paging. */
export type LogFilters = Omit<LogQuery, 'afterId' | 'limit'>;

const LEVELS: Record<string, LogLevel> = { debug: 'debug', info: 'info', warn: 'warn', warning: 'warn', error: 'error' };
const MAX_SEARCH = 1000;

export function parseLogFilters(c: Context<ApiEnv>, now: number): LogFilters {
  const f: LogFilters = {};
  const service = labelQuery(c, 'process');
  if (service) f.service = service;
  const id = labelQuery(c, 'id');
  const tenant = c.get('principal').tenant;
  if (tenant !== null) {
    if (id !== undefined && id !== tenant) {
      throw new HttpError(403, `this token belongs to tenant "${tenant}" and reads only the logs of instances with id "${tenant}", not "${id}"`);
    }
    f.instance = tenant;
  } else if (id) {
    f.instance = id;
  }
  const level = c.req.query('level');
  if (level !== undefined && level !== '') {
    const l = level.toLowerCase();
    // The original's "level" was the stream; keep accepting that.
    if (l === 'stdout' || l === 'stderr') f.stream = l;
    else if (LEVELS[l]) f.level = LEVELS[l];
    else throw new HttpError(400, `query parameter "level" must be one of debug, info, warn, error (or stdout, stderr); got ${JSON.stringify(level)}`);
  }
  const stream = c.req.query('stream');
  if (stream !== undefined && stream !== '') {
    if (stream !== 'stdout' && stream !== 'stderr') throw new HttpError(400, `query parameter "stream" must be stdout or stderr; got ${JSON.stringify(stream)}`);
    f.stream = stream;
  }
  const search = c.req.query('search');
  if (search !== undefined && search.trim() !== '') {
    if (search.length > MAX_SEARCH) throw new HttpError(400, `query parameter "search" is ${search.length} characters long; at most ${MAX_SEARCH} are allowed`);
    f.search = search;
  }
  const since = timeQuery(c, 'since', now);
  if (since !== undefined) f.since = since;
  return f;
}

export function toQuery(f: LogFilters, limit: number, afterId?: number): LogQuery {
  const q: LogQuery = { limit };
  if (f.service) q.service = f.service;
  if (f.instance) q.instance = f.instance;
  if (f.level) q.level = f.level;
  if (f.stream) q.stream = f.stream;
  if (f.search) q.search = f.search;
  if (f.since !== undefined) q.since = f.since;
  if (afterId !== undefined) q.afterId = afterId;
  return q;
}

/** Every filter except the full-text search (which only the store can evaluate). */
export function matchesWithoutSearch(f: LogFilters, l: LogLine): boolean {
  return (
    (f.service === undefined || l.service === f.service) &&
    (f.instance === undefined || l.instance === f.instance) &&
    (f.level === undefined || l.level === f.level) &&
    (f.stream === undefined || l.stream === f.stream) &&
    (f.since === undefined || l.at >= f.since)
  );
}
