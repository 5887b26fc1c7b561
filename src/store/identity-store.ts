// Which uid/gid each instance runs as. A row is written once and never changes: the uid owns the
// instance's files, so it stays the same across restarts, sleep/wake, controller restarts and
// upgrades, and it is kept when the instance row is removed (its data may be kept too).
import type Database from 'better-sqlite3';

export interface InstanceIdentity {
  service: string;
  id: string;
  uid: number;
  gid: number;
}

export class IdentityExhaustedError extends Error {
  constructor(start: number, end: number) {
    super(
      `no free uid left in uid_range_start..uid_range_end (${start}..${end}): every uid is recorded for an instance, ` +
        'listed in /etc/passwd or used by a running process; widen the range in [settings]',
    );
    this.name = 'IdentityExhaustedError';
  }
}

export class IdentityStore {
  constructor(private readonly db: Database.Database) {}

  get(service: string, id: string): InstanceIdentity | undefined {
    return this.db.prepare<[string, string], InstanceIdentity>('SELECT service, id, uid, gid FROM instance_identities WHERE service = ? AND id = ?').get(service, id);
  }

  list(): InstanceIdentity[] {
    return this.db.prepare<[], InstanceIdentity>('SELECT service, id, uid, gid FROM instance_identities ORDER BY uid').all();
  }

  /**
   * The instance's identity, allocating the lowest acceptable uid of [start, end] the first time.
   * `usable(uid)` rejects uids that belong to someone else on this host. Allocation happens in one
   * IMMEDIATE transaction, so two controllers on one database cannot hand out the same uid.
   */
  ensure(service: string, id: string, range: { start: number; end: number }, usable: (uid: number) => boolean, now = Date.now()): InstanceIdentity {
    const run = this.db.transaction((): InstanceIdentity => {
      const existing = this.get(service, id);
      if (existing) return existing;
      const taken = new Set(
        this.db
          .prepare<[], { uid: number }>('SELECT uid FROM instance_identities')
          .all()
          .map((r) => r.uid),
      );
      for (let uid = range.start; uid <= range.end; uid++) {
        if (taken.has(uid) || !usable(uid)) continue;
        this.db.prepare('INSERT INTO instance_identities (service, id, uid, gid, created_at) VALUES (?, ?, ?, ?, ?)').run(service, id, uid, uid, now);
        return { service, id, uid, gid: uid };
      }
      throw new IdentityExhaustedError(range.start, range.end);
    });
    return run.immediate();
  }
}
