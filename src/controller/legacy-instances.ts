// Instances that tenement 0.2 had running (its instance_state table, imported into
// legacy_instances by the schema migration) become instances of this controller again.
//
// The original proxied every request itself and, when stopped with SIGTERM, stopped its instances;
// only a crash or SIGKILL left them running. Such a leftover is not adopted: it was started
// without a recorded start time (so its identity cannot be proven later), with the original's
// environment and, often, on a port outside our range. It is stopped cleanly instead (SIGTERM to
// its process group, SIGKILL after the service's stop_timeout) and the instance is started again
// by this controller on a port of its own. Cost per instance: its stop (usually well under a
// second) plus one start until healthy; requests to it meanwhile are held by the wake path.
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import type { Config } from '../config/types.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { signalGroup } from '../supervisor/process-group.js';
import type { Logger } from '../util/logger.js';
import { isAlive } from '../util/proc.js';
import { setTimeout as delay } from 'node:timers/promises';

interface LegacyInstanceRow {
  service: string;
  id: string;
  pid: number | null;
  port: number | null;
  weight: number;
}

function rows(db: Database.Database): LegacyInstanceRow[] {
  const exists = db.prepare<[], number>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'legacy_instances'").pluck().get()! > 0;
  return exists ? db.prepare<[], LegacyInstanceRow>('SELECT service, id, pid, port, weight FROM legacy_instances ORDER BY service, id').all() : [];
}

/** Field 5 of /proc/PID/stat: the process group. */
function processGroup(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgid = Number(fields[2]);
    return Number.isInteger(pgid) && pgid > 0 ? pgid : null;
  } catch {
    return null;
  }
}

/** True when the environment of `pid` says it is that instance (PORT as recorded). Unreadable = unknown = false. */
function environmentMatches(pid: number, port: number | null): boolean {
  if (port === null) return false;
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return env.includes(`PORT=${port}`);
  } catch {
    return false;
  }
}

/**
 * SIGTERM to the group, SIGKILL after `timeoutMs`. Done when the leader is gone: its parent (the
 * dead 0.2 server's, i.e. init) may not have reaped it yet, and a zombie counts as gone.
 */
async function stopLeader(pgid: number, timeoutMs: number): Promise<{ killed: boolean }> {
  const gone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (isAlive(pgid)) {
      if (Date.now() >= deadline) return false;
      await delay(20);
    }
    return true;
  };
  signalGroup(pgid, 'SIGTERM');
  if (await gone(timeoutMs)) return { killed: false };
  signalGroup(pgid, 'SIGKILL');
  if (!(await gone(5000))) throw new Error(`process ${pgid} left by tenement 0.2 survived SIGKILL`);
  return { killed: true };
}

export interface LegacyInstanceReport {
  started: string[];
  kept: string[];
}

export interface LegacyInstanceOptions {
  db: Database.Database;
  config: Config;
  supervisor: Supervisor;
  log: Logger;
}

/** Before the supervisor starts: stops what tenement 0.2 left running (see the top of this file). */
export async function stopLegacyLeftovers(opts: LegacyInstanceOptions): Promise<string[]> {
  const { db, config, log } = opts;
  const stopped: string[] = [];
  const pending = rows(db);
  if (pending.length === 0) return stopped;
  const forgetPid = db.prepare<[string, string]>('UPDATE legacy_instances SET pid = NULL WHERE service = ? AND id = ?');
  for (const row of pending) {
    const key = `${row.service}:${row.id}`;
    if (row.pid === null || !isAlive(row.pid)) continue;
    // A pid alone is no identity (it may have been reused since): only a process that leads its
    // own group (as the original started them) and carries the recorded PORT is touched.
    if (processGroup(row.pid) !== row.pid || !environmentMatches(row.pid, row.port)) {
      log.warn('tenement 0.2 recorded a pid for this instance, but that process does not look like it (pid reused?); left alone', { instance: key, pid: row.pid });
      forgetPid.run(row.service, row.id);
      continue;
    }
    const timeoutMs = config.settings.stop_timeout * 1000;
    const started = Date.now();
    const { killed } = await stopLeader(row.pid, timeoutMs);
    log.info('stopped a process left running by tenement 0.2; it is started again by this controller', { instance: key, pid: row.pid, killed, ms: Date.now() - started });
    forgetPid.run(row.service, row.id);
    stopped.push(key);
  }
  return stopped;
}

/**
 * After the supervisor has restored its own instances: starts each imported instance again (in
 * the background, like the declared instances' retries) and forgets the imported row.
 */
export function startLegacyInstances(opts: LegacyInstanceOptions): LegacyInstanceReport {
  const { db, config, supervisor, log } = opts;
  const report: LegacyInstanceReport = { started: [], kept: [] };
  const remove = db.prepare<[string, string]>('DELETE FROM legacy_instances WHERE service = ? AND id = ?');
  for (const row of rows(db)) {
    const key = `${row.service}:${row.id}`;
    if (!config.services[row.service]) {
      log.warn('tenement 0.2 had this instance, but its service is not in the config; kept for a later start (add the service, or ignore)', { instance: key });
      report.kept.push(key);
      continue;
    }
    if (supervisor.get({ service: row.service, id: row.id })) {
      remove.run(row.service, row.id);
      continue;
    }
    report.started.push(key);
    void supervisor
      .spawn({ service: row.service, id: row.id }, { keepOnFailure: true, weight: row.weight })
      .then(() => log.info('instance of tenement 0.2 started again', { instance: key }))
      .catch((err: Error) => log.error('instance of tenement 0.2 failed to start; retried per its restart policy', { instance: key, error: err.message }))
      .finally(() => {
        try {
          remove.run(row.service, row.id);
        } catch {
          // the database was closed meanwhile (controller stopping): the row is handled next start
        }
      });
  }
  return report;
}
