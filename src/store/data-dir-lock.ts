// One controller per data dir. Two controllers on the same tenement.db would both adopt, restart
// and route the same tenants and fight over ports. SQLite's own locking only serialises writes;
// it does not stop a second supervisor, hence this lock file.
//
// The lock is the file {dataDir}/controller.lock, created with O_EXCL so exactly one creator wins.
// It names its owner by (pid, /proc start time): a crashed controller leaves the file behind, and
// its pid may since belong to an unrelated process, so "pid alive" alone would lock us out forever.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAlive, readProcStartTime } from '../util/proc.js';

export const LOCK_FILE = 'controller.lock';

export interface DataDirLockInfo {
  pid: number;
  /** /proc/<pid>/stat field 22; null where /proc is unavailable. */
  startTime: string | null;
  /** ISO 8601. */
  acquiredAt: string;
  version: string;
  /** Informational (shown in the error); not used to decide ownership. */
  hostname: string;
  /** Random, tells our lock from a successor's written by the same pid. */
  nonce: string;
}

export class DataDirLockedError extends Error {
  readonly dataDir: string;
  readonly owner: DataDirLockInfo;
  constructor(dataDir: string, owner: DataDirLockInfo) {
    const other = owner.hostname !== os.hostname() ? ` on host ${owner.hostname}` : '';
    super(
      `data dir ${dataDir} is owned by the controller with pid ${owner.pid}${other} since ${owner.acquiredAt} (tenement ${owner.version}); ` +
        `stop it (\`ten down\` / kill ${owner.pid}) or use another --data-dir`,
    );
    this.name = 'DataDirLockedError';
    this.dataDir = dataDir;
    this.owner = owner;
  }
}

export interface DataDirLock {
  readonly path: string;
  readonly info: DataDirLockInfo;
  /** Removes the lock file if it is still ours. Returns whether it removed it. Idempotent. */
  release(): boolean;
}

export interface AcquireOptions {
  /** tenement version, for the message a second controller gets. */
  version?: string;
}

// A lock file being created is empty for a moment (open, then write). Content that does not parse
// is only judged stale once it is older than this.
const PARTIAL_GRACE_MS = 2000;
const MAX_ATTEMPTS = 50;

type Existing = { kind: 'gone' } | { kind: 'lock'; info: DataDirLockInfo; raw: string } | { kind: 'unreadable'; raw: string; ageMs: number };

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function parseInfo(raw: string): DataDirLockInfo | null {
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null) return null;
    const o = v as Record<string, unknown>;
    if (typeof o.pid !== 'number' || !Number.isSafeInteger(o.pid) || o.pid <= 0) return null;
    return {
      pid: o.pid,
      startTime: typeof o.startTime === 'string' ? o.startTime : null,
      acquiredAt: typeof o.acquiredAt === 'string' ? o.acquiredAt : 'an unknown time',
      version: typeof o.version === 'string' ? o.version : 'unknown',
      hostname: typeof o.hostname === 'string' ? o.hostname : os.hostname(),
      nonce: typeof o.nonce === 'string' ? o.nonce : '',
    };
  } catch {
    return null;
  }
}

function readExisting(file: string): Existing {
  let raw: string;
  let mtimeMs: number;
  try {
    raw = fs.readFileSync(file, 'utf8');
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
    throw err;
  }
  const info = parseInfo(raw);
  return info ? { kind: 'lock', info, raw } : { kind: 'unreadable', raw, ageMs: Date.now() - mtimeMs };
}

/**
 * Whether the recorded owner is still running. If its pid is alive but the start time cannot be
 * compared (no /proc, unreadable) the lock is respected: a wrong "held" costs a clear error and a
 * manual `rm`, a wrong "stale" costs two controllers on one database. The hostname is deliberately
 * not a reason to respect a lock: a re-created container gets a new hostname and would otherwise
 * be locked out of its own volume forever (and SQLite over a shared network mount is unsafe anyway).
 */
function ownerRunning(info: DataDirLockInfo): boolean {
  if (!isAlive(info.pid)) return false;
  const current = readProcStartTime(info.pid);
  if (current === null || info.startTime === null) return true;
  return current === info.startTime;
}

/** The current lock's content, or null if the data dir is not locked (or the file is unreadable). */
export function readDataDirLock(dataDir: string): DataDirLockInfo | null {
  const existing = readExisting(path.join(path.resolve(dataDir), LOCK_FILE));
  return existing.kind === 'lock' ? existing.info : null;
}

/**
 * Removes a stale lock file, but only the exact one judged stale. A plain unlink could delete the
 * fresh lock of a concurrent starter that judged the same stale file a moment earlier, replaced it
 * and now believes it owns the dir. Renaming is atomic, so exactly one starter moves the stale
 * file; whoever moves something else puts it back.
 */
function removeStale(file: string, staleRaw: string): void {
  const aside = `${file}.stale-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else removed it
    throw err;
  }
  try {
    const moved = fs.readFileSync(aside, 'utf8');
    if (moved !== staleRaw) {
      try {
        fs.linkSync(aside, file); // not ours to remove: restore it (unless yet another lock exists)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

export function acquireDataDirLock(dataDir: string, opts: AcquireOptions = {}): DataDirLock {
  const dir = path.resolve(dataDir);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const info: DataDirLockInfo = {
    pid: process.pid,
    startTime: readProcStartTime(process.pid),
    acquiredAt: new Date().toISOString(),
    version: opts.version ?? 'unknown',
    hostname: os.hostname(),
    nonce: crypto.randomBytes(8).toString('hex'),
  };
  const content = `${JSON.stringify(info, null, 2)}\n`;

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const existing = readExisting(file);
      if (existing.kind === 'gone') continue;
      if (existing.kind === 'lock') {
        if (ownerRunning(existing.info)) throw new DataDirLockedError(dir, existing.info);
        removeStale(file, existing.raw);
        continue;
      }
      if (existing.ageMs < PARTIAL_GRACE_MS) {
        sleepSync(50); // probably being written right now
        continue;
      }
      removeStale(file, existing.raw);
      continue;
    }
    try {
      fs.writeSync(fd, content);
      fs.fsyncSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      throw err;
    }
    fs.closeSync(fd);
    return makeLock(file, info, content);
  }
  throw new Error(`could not acquire ${file} after ${MAX_ATTEMPTS} attempts: other starters keep replacing it; is something deleting it in a loop?`);
}

function makeLock(file: string, info: DataDirLockInfo, content: string): DataDirLock {
  let released = false;
  return {
    path: file,
    info,
    release(): boolean {
      if (released) return false;
      released = true;
      let current: string;
      try {
        current = fs.readFileSync(file, 'utf8');
      } catch {
        return false; // already gone
      }
      if (current !== content) return false; // taken over (we were judged stale): not ours any more
      fs.rmSync(file, { force: true });
      return true;
    },
  };
}
