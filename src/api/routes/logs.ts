// GET /api/logs (search the store) and GET /api/logs/stream (follow live, Server-Sent Events).
import { Hono } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { LogLine } from '../../store/types.js';
import type { MissedJson } from '../contract.js';
import type { ApiContext, ApiEnv } from '../env.js';
import { HttpError } from '../errors.js';
import { matchesWithoutSearch, parseLogFilters, toQuery, type LogFilters } from '../log-filters.js';
import { intQuery } from '../validate.js';
import { logJson } from '../wire.js';

export const DEFAULT_LOG_LIMIT = 100;
export const MAX_LOG_LIMIT = 10_000;
/** Lines replayed from the store when a follower resumes (Last-Event-ID) or catches up a search. */
const REPLAY_LIMIT = 5000;

export function logRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();

  r.get('/', async (c) => {
    const filters = parseLogFilters(c, ctx.now());
    const limit = intQuery(c, 'limit', 1, MAX_LOG_LIMIT) ?? DEFAULT_LOG_LIMIT;
    // The store answers newest first; the response is the newest `limit` lines in the order they
    // were written, like `tail -n`.
    const found = await ctx.logs.queryAsync(toQuery(filters, limit));
    // A scoped search that stopped at its scan limit says so (older lines were not searched).
    if (found.scan && !found.scan.complete) c.header('X-Tenement-Search-Scanned', String(found.scan.scanned));
    return c.json([...found].reverse().map(logJson));
  });

  r.get('/stream', (c) => {
    const filters = parseLogFilters(c, ctx.now());
    const lastEventId = parseLastEventId(c.req.header('last-event-id'));
    // Invalid search syntax must be a 400 now, not an error event after the stream has started.
    if (filters.search) ctx.logs.query(toQuery(filters, 1));
    const tokenId = c.get('principal').tokenId;
    const release = ctx.streamGuard.acquire(tokenId);
    return streamSSE(c, async (stream) => {
      // A revoked token's stream ends within streamGuard.recheckMs.
      const unwatch = ctx.streamGuard.watch(tokenId, () => {
        ctx.log.info('closing a log stream: its token was revoked', { token: tokenId });
        void stream.writeSSE({ event: 'error', data: JSON.stringify({ error: `token ${tokenId} has been revoked` }) }).finally(() => stream.abort());
      });
      try {
        await follow(ctx, stream, filters, lastEventId, c.req.raw.signal);
      } finally {
        unwatch();
        release();
      }
    });
  });
  return r;
}

function parseLastEventId(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  if (!/^\d{1,15}$/.test(header.trim())) throw new HttpError(400, `Last-Event-ID must be the id of a log event (a whole number), got ${JSON.stringify(header)}`);
  return Number(header.trim());
}

async function follow(ctx: ApiContext, stream: SSEStreamingApi, filters: LogFilters, resumeAfter: number | undefined, requestSignal: AbortSignal): Promise<void> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  stream.onAbort(stop);
  requestSignal.addEventListener('abort', stop, { once: true });
  // Subscribe before replaying, so nothing written during the replay falls between the two.
  const sub = ctx.logFeed.subscribe({ filter: (l) => matchesWithoutSearch(filters, l), capacity: ctx.streamBuffer });
  const keepAlive = setInterval(() => {
    stream.write(': keep-alive\n\n').catch(stop);
  }, ctx.streamKeepAliveMs);
  let lastSent = resumeAfter;

  const send = async (lines: readonly LogLine[]) => {
    for (const line of lines) {
      if (lastSent !== undefined && line.id <= lastSent) continue; // already sent by the replay
      await stream.writeSSE({ event: 'log', id: String(line.id), data: JSON.stringify(logJson(line)) });
      lastSent = line.id;
    }
  };
  const sendMissed = async (m: MissedJson) => {
    await stream.writeSSE({ event: 'missed', data: JSON.stringify(m) });
  };
  /** Everything after `lastSent` from the store (oldest first), with a gap report if it is more than the replay limit. */
  const replay = async (after: number) => {
    const lines = ctx.logs.query(toQuery(filters, REPLAY_LIMIT, after)).reverse();
    if (lines.length === REPLAY_LIMIT) {
      await sendMissed({ missed: null, from_id: after + 1, to_id: lines[0]!.id - 1, reason: `more than ${REPLAY_LIMIT} lines to replay; read the rest with GET /api/logs` });
    }
    lastSent = Math.max(lastSent ?? after, after);
    await send(lines);
  };

  try {
    // A comment (ignored by SSE clients): tells tests and proxies the stream is live.
    await stream.write(': ready\n\n');
    if (resumeAfter !== undefined) await replay(resumeAfter);
    for (;;) {
      const item = await sub.next(abort.signal);
      if (!item || stream.aborted || stream.closed) break;
      if (filters.search) {
        // The feed only wakes us up: the store evaluates the search (exactly as GET /api/logs
        // does) for everything since the last line sent. A feed overflow loses nothing here.
        const from = item.kind === 'lines' ? item.lines[0]!.id - 1 : item.fromId - 1;
        await replay(lastSent ?? from);
      } else if (item.kind === 'missed') {
        await sendMissed({ missed: item.count, from_id: item.fromId, to_id: item.toId, reason: 'the client read too slowly; read these lines with GET /api/logs' });
      } else {
        await send(item.lines);
      }
    }
  } catch (err) {
    // A write to a client that went away: nothing to report to anyone but our own log.
    if (!abort.signal.aborted) ctx.log.debug('log stream ended with an error', { error: (err as Error).message });
  } finally {
    clearInterval(keepAlive);
    requestSignal.removeEventListener('abort', stop);
    sub.close();
  }
}
