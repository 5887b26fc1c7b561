// Captured stdout/stderr of every instance, searchable with FTS5 and bounded by retention. Unlike
// the original's in-memory ring, lines survive controller restarts, and log_offsets lets the
// capture side resume reading each file where it stopped instead of re-reading or skipping.
import type Database from 'better-sqlite3';
import type { LogLine } from './types.js';
import { DomainError } from '../util/domain-error.js';
import { MatchSyntaxError, matches, parseSearch, tokenize, type MatchNode } from './log-match.js';

export type LogLevel = LogLine['level'];
export type LogStream = LogLine['stream'];

export interface LogQuery {
  service?: string;
  instance?: string;
  /** Exact level. */
  level?: LogLevel;
  stream?: LogStream;
  /**
   * FTS5 query: words (all must match), "exact phrase", prefix*, OR, NOT, (groups). Blank = no
   * search. Invalid syntax throws LogSearchError.
   */
  search?: string | undefined;
  /** Only lines at or after this time (epoch ms). */
  since?: number;
  /** Only lines with a larger id (for following: pass the last id seen). */
  afterId?: number;
  limit: number;
}

/** A scoped search reads at most this many of the scope's newest lines (then says it stopped). */
export const SCOPED_SCAN_LIMIT = 200_000;
const SCAN_BATCH = 2000;

export interface ScopedScan {
  /** Lines of the scope read. */
  scanned: number;
  /** False when SCOPED_SCAN_LIMIT stopped the scan before `limit` matches were found. */
  complete: boolean;
}

export interface RetentionPolicy {
  /** Delete lines older than this. Absent = no age limit. */
  maxAgeMs?: number;
  /**
   * Keep at most this many bytes of log text (UTF-8 bytes of `text`, oldest deleted first).
   * Not the file size: the FTS index and row overhead come on top, and SQLite reuses freed pages
   * instead of shrinking the file, so the file settles at its high-water mark.
   */
  maxBytes?: number;
  /** Default Date.now(). */
  now?: number;
  /** Lines per delete transaction. Default 500: each batch holds the write lock only briefly. */
  batchSize?: number;
}

export class LogSearchError extends DomainError<'invalid_log_search'> {
  readonly search: string;
  constructor(search: string, reason: string, options?: ErrorOptions) {
    super(
      'invalid_log_search',
      `invalid log search ${JSON.stringify(search)}: ${reason}. ` +
        'Search syntax: words (all must match), "exact phrase", prefix*, OR, NOT, (grouping); ' +
        'put text with punctuation in double quotes, e.g. "connection-refused"',
      options,
    );
    this.name = 'LogSearchError';
    this.search = search;
  }
}

// Messages SQLite gives for a bad MATCH expression (FTS5 reads "a-b" and "x:y" as column filters).
const FTS_SYNTAX_ERROR = /fts5:|unterminated string|no such column|unknown special query|malformed MATCH/i;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class LogStore {
  private readonly db: Database.Database;
  private readonly queries = new Map<string, Database.Statement<[Record<string, unknown>], LogLine>>();
  private readonly stmt;
  private readonly appendAll: (lines: readonly Omit<LogLine, 'id'>[]) => LogLine[];
  private retention: Promise<number> | undefined;

  constructor(db: Database.Database) {
    this.db = db;
    this.stmt = {
      insert: db.prepare<[string, string, string, string, number, string]>('INSERT INTO logs (service, instance, stream, level, at, text) VALUES (?, ?, ?, ?, ?, ?)'),
      stats: db.prepare<[], { lines: number; bytes: number }>('SELECT lines, bytes FROM log_stats WHERE id = 1'),
      offset: db.prepare<[string], number>('SELECT byte_offset FROM log_offsets WHERE file = ?').pluck(),
      setOffset: db.prepare<[string, number, number]>(
        'INSERT INTO log_offsets (file, byte_offset, updated_at) VALUES (?, ?, ?) ON CONFLICT (file) DO UPDATE SET byte_offset = excluded.byte_offset, updated_at = excluded.updated_at',
      ),
      deleteOlder: db.prepare<[number, number]>('DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE at < ? ORDER BY at, id LIMIT ?)'),
      oldest: db.prepare<[number], { id: number; bytes: number }>('SELECT id, length(CAST(text AS BLOB)) AS bytes FROM logs ORDER BY at, id LIMIT ?'),
      deleteId: db.prepare<[number]>('DELETE FROM logs WHERE id = ?'),
    };
    this.appendAll = db.transaction((lines: readonly Omit<LogLine, 'id'>[]): LogLine[] =>
      lines.map((l) => {
        const id = Number(this.stmt.insert.run(l.service, l.instance, l.stream, l.level, l.at, l.text).lastInsertRowid);
        return { id, service: l.service, instance: l.instance, stream: l.stream, level: l.level, at: l.at, text: l.text };
      }),
    );
  }

  /** Stores the lines in one transaction (all or none). Returns them with their ids, in order. */
  append(lines: readonly Omit<LogLine, 'id'>[]): LogLine[] {
    if (lines.length === 0) return [];
    return this.appendAll(lines);
  }

  /**
   * Newest first. A search scoped to one instance id (every tenant's search is) reads only that
   * scope's rows and matches them in batches (log-match.ts); an unscoped search uses the FTS index.
   */
  query(q: LogQuery): LogLine[] {
    const scoped = this.scopedSearch(q);
    if (scoped) {
      const it = scoped();
      for (let r = it.next(); ; r = it.next()) if (r.done) return r.value.lines;
    }
    return this.indexedQuery(q);
  }

  /** As query(), giving the event loop a turn between batches of a scoped search. */
  async queryAsync(q: LogQuery): Promise<LogLine[] & { scan?: ScopedScan }> {
    const scoped = this.scopedSearch(q);
    if (!scoped) return this.indexedQuery(q);
    const it = scoped();
    for (;;) {
      const r = it.next();
      if (r.done) return Object.assign(r.value.lines, { scan: r.value.scan });
      await yieldToEventLoop();
    }
  }

  private scopedSearch(q: LogQuery): (() => Generator<void, { lines: LogLine[]; scan: ScopedScan }>) | undefined {
    const search = q.search?.trim() ? q.search : undefined;
    if (search === undefined || q.instance === undefined) return undefined;
    if (!Number.isInteger(q.limit) || q.limit < 1) throw new Error(`log query limit must be a positive integer, got ${q.limit}`);
    let node: MatchNode;
    try {
      node = parseSearch(search);
    } catch (err) {
      if (err instanceof MatchSyntaxError) throw new LogSearchError(search, err.message, { cause: err });
      throw err;
    }
    const self = this;
    return function* () {
      const found: LogLine[] = [];
      let scanned = 0;
      let cursor: { at: number; id: number } | undefined;
      while (found.length < q.limit && scanned < SCOPED_SCAN_LIMIT) {
        const batch = self.indexedQuery({ ...q, search: undefined, limit: Math.min(SCAN_BATCH, SCOPED_SCAN_LIMIT - scanned) }, cursor);
        for (const line of batch) {
          if (matches(node, tokenize(line.text))) found.push(line);
          if (found.length === q.limit) break;
        }
        scanned += batch.length;
        if (batch.length < SCAN_BATCH) return { lines: found, scan: { scanned, complete: true } };
        const last = batch[batch.length - 1]!;
        cursor = { at: last.at, id: last.id };
        yield;
      }
      return { lines: found, scan: { scanned, complete: found.length >= q.limit } };
    };
  }

  private indexedQuery(q: LogQuery, before?: { at: number; id: number }): LogLine[] {
    if (!Number.isInteger(q.limit) || q.limit < 1) throw new Error(`log query limit must be a positive integer, got ${q.limit}`);
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit };
    const add = (clause: string, name: string, value: unknown): void => {
      if (value === undefined) return;
      where.push(clause);
      params[name] = value;
    };
    add('service = @service', 'service', q.service);
    add('instance = @instance', 'instance', q.instance);
    add('level = @level', 'level', q.level);
    add('stream = @stream', 'stream', q.stream);
    add('at >= @since', 'since', q.since);
    add('id > @afterId', 'afterId', q.afterId);
    if (before) {
      where.push('(at < @beforeAt OR (at = @beforeAt AND id < @beforeId))');
      params.beforeAt = before.at;
      params.beforeId = before.id;
    }
    const search = q.search?.trim() ? q.search : undefined;
    add('id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH @search)', 'search', search);
    const sql =
      'SELECT id, service, instance, stream, level, at, text FROM logs' + (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') + ' ORDER BY at DESC, id DESC LIMIT @limit';
    let stmt = this.queries.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<Record<string, unknown>, LogLine>(sql);
      this.queries.set(sql, stmt);
    }
    try {
      return stmt.all(params);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (search !== undefined && FTS_SYNTAX_ERROR.test(message)) throw new LogSearchError(search, message, { cause: err });
      throw err;
    }
  }

  /** Bytes of `file` already indexed; 0 if never seen. */
  offset(file: string): number {
    return this.stmt.offset.get(file) ?? 0;
  }

  setOffset(file: string, offset: number, at: number = Date.now()): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`log offset for ${file} must be a non-negative integer, got ${offset}`);
    this.stmt.setOffset.run(file, offset, at);
  }

  /** Number of stored lines (kept by triggers: no table scan). */
  count(): number {
    return this.stmt.stats.get()?.lines ?? 0;
  }

  /** UTF-8 bytes of stored text, as RetentionPolicy.maxBytes counts them. */
  bytes(): number {
    return this.stmt.stats.get()?.bytes ?? 0;
  }

  /**
   * Deletes the oldest lines until both limits hold, in small transactions with the event loop
   * getting a turn between them, so neither the API nor other writers stall on a large backlog.
   * Returns how many lines were deleted. A call while one is running joins it.
   */
  enforceRetention(policy: RetentionPolicy): Promise<number> {
    if (!this.retention) {
      this.retention = this.runRetention(policy).finally(() => {
        this.retention = undefined;
      });
    }
    return this.retention;
  }

  private async runRetention(policy: RetentionPolicy): Promise<number> {
    const batch = policy.batchSize ?? 500;
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`retention batchSize must be a positive integer, got ${batch}`);
    let deleted = 0;
    if (policy.maxAgeMs !== undefined) {
      const cutoff = (policy.now ?? Date.now()) - policy.maxAgeMs;
      while (this.db.open) {
        const n = this.stmt.deleteOlder.run(cutoff, batch).changes;
        deleted += n;
        if (n < batch) break;
        await yieldToEventLoop();
      }
    }
    if (policy.maxBytes !== undefined) {
      const deleteIds = this.db.transaction((ids: number[]) => {
        for (const id of ids) this.stmt.deleteId.run(id);
      });
      while (this.db.open) {
        let excess = this.bytes() - policy.maxBytes;
        if (excess <= 0) break;
        const ids: number[] = [];
        for (const row of this.stmt.oldest.all(batch)) {
          if (excess <= 0) break;
          ids.push(row.id);
          excess -= row.bytes;
        }
        if (ids.length === 0) break;
        deleteIds(ids);
        deleted += ids.length;
        await yieldToEventLoop();
      }
    }
    return deleted;
  }
}
