// Who did what to which instance, for operators and tenants asking "why did my app restart?".
// Append-only, with one exception: an entry recorded as an intent (before the operation) gets its
// outcome filled in once (finish()); a crash in between leaves it visibly pending.
import type Database from 'better-sqlite3';
import type { AuditEvent } from './types.js';

/** A stored event; ids grow with time and are never reused. */
export interface AuditEntry extends AuditEvent {
  id: number;
}

export interface AuditQuery {
  /** Only entries at or after this time (epoch ms). */
  since?: number;
  /** Exact target, e.g. "notes:alice". */
  target?: string;
  /** Default 100. */
  limit?: number;
}

export class AuditStore {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = {
      insert: db.prepare<[number, string, string, string, string | null]>('INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)'),
      list: db.prepare<{ since: number | null; target: string | null; limit: number }, AuditEntry>(
        `SELECT id, at, actor, action, target, detail FROM audit
         WHERE (@since IS NULL OR at >= @since) AND (@target IS NULL OR target = @target)
         ORDER BY at DESC, id DESC LIMIT @limit`,
      ),
      prune: db.prepare<[number]>('DELETE FROM audit WHERE at < ?'),
      finish: db.prepare<[string | null, number]>('UPDATE audit SET detail = ? WHERE id = ?'),
    };
  }

  /** Returns the new entry's id. */
  record(event: AuditEvent): number {
    return Number(this.stmt.insert.run(event.at, event.actor, event.action, event.target, event.detail ?? null).lastInsertRowid);
  }

  /** Fills in the outcome of an entry recorded before its operation ran. */
  finish(id: number, detail: string | null): void {
    this.stmt.finish.run(detail, id);
  }

  /** Newest first. */
  list(query: AuditQuery = {}): AuditEntry[] {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`audit limit must be a positive integer, got ${limit}`);
    return this.stmt.list.all({ since: query.since ?? null, target: query.target ?? null, limit });
  }

  /** Deletes entries older than `before` (epoch ms). Returns how many. */
  prune(before: number): number {
    return this.stmt.prune.run(before).changes;
  }
}
