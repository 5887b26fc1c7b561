// One controller per data dir. Two controllers on the same tenement.db would both adopt, restart
// and route the same tenants and fight over ports. SQLite's own locking only serialises writes;
// it does not stop a second supervisor, hence this lock file.
//
// The lock is the file {dataDir}/controller.lock, created with O_EXCL so exactly one creator wins.
// It names its owner by (pid, /proc start time): a crashed controller leaves the file behind, and
// its pid may since belong to an unrelated process, so "pid alive" alone would lock us out forever.
// Such a stale file is removed by one starter at a time (see removeStale).
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
 * A starter removing a stale lock holds this directory (mkdir is atomic) while it does. Without it,
 * two starters judging the same stale file could each move "it" aside, the second one moving the
 * first one's fresh lock instead; putting that back could then fail because a third starter had
 * created its own meanwhile, and two controllers would both believe they own the dir.
 */
const TAKEOVER_SUFFIX = '.takeover';
/** A takeover directory this old was left by a starter that died while holding it. */
const TAKEOVER_STALE_MS = 10_000;

/**
 * Removes the lock file if it still holds exactly `staleRaw`. Returns false when another starter
 * is removing it right now (try again shortly). Only the holder of the takeover directory removes
 * a lock file that is not its own, and nobody creates one while one exists (O_EXCL): so the file
 * read again under the takeover is the stale one, or a live owner's, never a swap in between.
 */
function removeStale(file: string, staleRaw: string): boolean {
  const takeover = `${file}${TAKEOVER_SUFFIX}`;
  try {
    fs.mkdirSync(takeover);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let ageMs = 0;
    try {
      ageMs = Date.now() - fs.statSync(takeover).mtimeMs;
    } catch {
      return false; // just released
    }
    if (ageMs > TAKEOVER_STALE_MS) fs.rmSync(takeover, { recursive: true, force: true });
    return false;
  }
  try {
    let current: string;
    try {
      current = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw err;
    }
    if (current === staleRaw) fs.rmSync(file, { force: true });
    return true;
  } finally {
    fs.rmSync(takeover, { recursive: true, force: true });
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
    const removeOrWait = (raw: string) => {
      if (removeStale(file, raw)) return;
      // Another starter holds the takeover: not an attempt of ours, and bounded by TAKEOVER_STALE_MS.
      attempt--;
      sleepSync(5);
    };
    try {
      fd = fs.openSync(file, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const existing = readExisting(file);
      if (existing.kind === 'gone') continue;
      if (existing.kind === 'lock') {
        if (ownerRunning(existing.info)) throw new DataDirLockedError(dir, existing.info);
        removeOrWait(existing.raw);
        continue;
      }
      if (existing.ageMs < PARTIAL_GRACE_MS) {
        sleepSync(50); // probably being written right now
        continue;
      }
      removeOrWait(existing.raw);
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
