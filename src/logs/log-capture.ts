// Indexes every instance's stdout/stderr into the LogStore and announces new lines on the LogFeed.
//
// Tenants append to their own files ({data_dir}/_logs/{service}/{id}.{stream}.log, see
// supervisor/layout.ts), so their output never depends on the controller being up. This reads the
// files from the offset recorded in the store: whatever was written while the controller was down
// is indexed when it starts, and nothing is indexed twice in normal operation.
//
// Watching is a short poll (stat per file), not fs.watch: inotify watches are a limited resource
// per user, miss writes on some file systems (overlay, NFS), and would still need a rescan to
// find new files; a stat every 250 ms per file is cheap and predictable. Reads and stats are
// asynchronous and each file's new bytes are stored in bounded chunks, so API requests are served
// between them.
//
// Offsets only ever move past complete lines. A partial last line stays in the file until its
// newline arrives, or until the file has not grown for `partialFlushMs` (a process that died
// mid-line still gets its last words indexed). The offset is written right after the lines it
// covers, in a separate statement: a crash between the two re-indexes that one chunk (lines are
// never lost, at worst duplicated).
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { LogLevel, LogStore, LogStream } from '../store/log-store.js';
import type { LogLine } from '../store/types.js';
import { logDir } from '../supervisor/layout.js';
import { isDnsLabel } from '../util/instance-key.js';
import type { Logger } from '../util/logger.js';
import { detectLevel } from './level.js';
import type { LogFeed } from './log-feed.js';

/** What LogCapture reports to metrics (implemented by metrics/Metrics). */
export interface LogLineCounter {
  observeLogLines(labels: { service: string; instance: string }, count: number): void;
}

export interface LogCaptureOptions {
  dataDir: string;
  store: LogStore;
  feed?: LogFeed;
  metrics?: LogLineCounter;
  log: Logger;
  /** Default 250 ms. */
  pollMs?: number;
  /** A partial last line is indexed once its file has not grown for this long. Default 2000 ms. */
  partialFlushMs?: number;
  /** Longer lines are indexed in pieces of this many bytes. Default 16 KiB. */
  maxLineBytes?: number;
  /** Bytes read and stored per step. Default 256 KiB. */
  chunkBytes?: number;
  /**
   * How far one pass follows a file that grows while it is read, beyond the size it found.
   * Default 8 MiB (about a second of indexing).
   */
  followBytes?: number;
  /**
   * After the first pass, follow only the files of instances named by noteInstance() as live, plus
   * those of stopped ones until their last bytes are indexed: a thousand sleeping instances then
   * cost no stat calls at all. Default false: every file found in the log folder is polled.
   */
  liveOnly?: boolean;
  /**
   * liveOnly: how often a pass looks at every file anyway, so that log_file_max_age_days also
   * empties the files of instances asleep for weeks. Default one hour (a stat per file).
   */
  fullPassMs?: number;
  now?: () => number;
  /** Caps on the captured files themselves (read each pass: config reloads apply). */
  fileLimits?: () => FileLimits;
}

export interface FileLimits {
  /** A file is emptied once its lines are indexed and it is at least this big. */
  maxBytes: number;
  /** A fully indexed file not written for this long is emptied; 0 = never. */
  maxAgeMs: number;
}

interface FileState {
  offset: number;
  ino: number;
  lastSize: number;
  sizeChangedAt: number;
  lastLevel: LogLevel | undefined;
}

interface LogFile {
  file: string;
  service: string;
  instance: string;
  stream: LogStream;
}

const FILE_NAME = /^(.+)\.(stdout|stderr)\.log$/;
/** How many times one pass looks again at a file that grew while it was read. */
const MAX_FOLLOW_LOOKS = 8;

export class LogCapture {
  private readonly dir: string;
  private readonly pollMs: number;
  private readonly partialFlushMs: number;
  private readonly maxLineBytes: number;
  private readonly chunkBytes: number;
  private readonly followBytes: number;
  private readonly now: () => number;
  private readonly files = new Map<string, FileState>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = true;
  /** Set by stop(): a scan in progress finishes the chunk it is on and returns. */
  private closing = false;
  /** liveOnly: instances whose files are followed ("service/id" -> whether the process runs). */
  private readonly hot = new Map<string, boolean>();
  private caughtUp = false;
  private lastFullPass = 0;

  constructor(private readonly opts: LogCaptureOptions) {
    this.dir = logDir(opts.dataDir);
    this.pollMs = opts.pollMs ?? 250;
    this.partialFlushMs = opts.partialFlushMs ?? 2000;
    this.maxLineBytes = opts.maxLineBytes ?? 16 * 1024;
    this.chunkBytes = Math.max(opts.chunkBytes ?? 256 * 1024, this.maxLineBytes);
    this.followBytes = opts.followBytes ?? 8 * 1024 * 1024;
    this.now = opts.now ?? Date.now;
  }

  /** Catches up with everything written so far (awaited), then follows the files. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.closing = false;
    try {
      await this.scan();
    } finally {
      // Following goes on even if the first pass failed: it is retried every poll.
      this.schedule();
    }
  }

  /** Stops following; waits for a scan in progress so the store can be closed afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One pass over every log file. Returns the number of lines indexed. Calls never overlap. */
  scan(): Promise<number> {
    if (!this.running) {
      this.running = this.scanAll().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.scan()
        .catch((err: Error) => this.opts.log.error('log capture pass failed', { error: err.message }))
        .finally(() => this.schedule());
    }, this.pollMs);
    this.timer.unref();
  }

  /**
   * liveOnly: says whether an instance's process may be writing. Its files are followed while it
   * is live and afterwards until everything it wrote is indexed.
   */
  noteInstance(service: string, instance: string, live: boolean): void {
    if (!isDnsLabel(service) || !isDnsLabel(instance)) return;
    this.hot.set(`${service}/${instance}`, live);
  }

  private hotFiles(): LogFile[] {
    const files: LogFile[] = [];
    for (const key of this.hot.keys()) {
      const [service, instance] = key.split('/') as [string, string];
      for (const stream of ['stdout', 'stderr'] as const) {
        files.push({ file: path.join(this.dir, service, `${instance}.${stream}.log`), service, instance, stream });
      }
    }
    return files;
  }

  /** Drops stopped instances whose files are fully indexed from the followed set. */
  private settle(): void {
    for (const [key, live] of this.hot) {
      if (live) continue;
      const [service, instance] = key.split('/') as [string, string];
      const done = (['stdout', 'stderr'] as const).every((stream) => {
        const st = this.files.get(path.join(this.dir, service, `${instance}.${stream}.log`));
        return !st || st.offset >= st.lastSize;
      });
      if (done) this.hot.delete(key);
    }
  }

  private async scanAll(): Promise<number> {
    let total = 0;
    const seen = new Set<string>();
    const now = this.now();
    const followHot = this.opts.liveOnly === true && this.caughtUp && now - this.lastFullPass < (this.opts.fullPassMs ?? 3_600_000);
    if (!followHot) this.lastFullPass = now;
    for (const f of followHot ? this.hotFiles() : await this.discover()) {
      seen.add(f.file);
      try {
        total += await this.scanFile(f);
      } catch (err) {
        // One unreadable file must not stop the others; it is retried on the next pass.
        this.opts.log.warn('cannot read instance log file', { file: f.file, error: (err as Error).message });
      }
    }
    if (followHot) this.settle();
    else for (const file of this.files.keys()) if (!seen.has(file)) this.files.delete(file);
    this.caughtUp = true;
    return total;
  }

  private async discover(): Promise<LogFile[]> {
    const found: LogFile[] = [];
    for (const service of await readdirOrEmpty(this.dir)) {
      if (!isDnsLabel(service)) continue;
      for (const name of await readdirOrEmpty(path.join(this.dir, service))) {
        const m = FILE_NAME.exec(name);
        if (!m || !isDnsLabel(m[1]!)) continue;
        found.push({ file: path.join(this.dir, service, name), service, instance: m[1]!, stream: m[2] as LogStream });
      }
    }
    return found;
  }

  private async scanFile(f: LogFile): Promise<number> {
    let stat;
    try {
      stat = await fsp.stat(f.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    if (!stat.isFile()) return 0;
    const now = this.now();
    let state = this.files.get(f.file);
    if (!state) {
      state = { offset: this.opts.store.offset(f.file), ino: stat.ino, lastSize: stat.size, sizeChangedAt: now, lastLevel: undefined };
      this.files.set(f.file, state);
    }
    if (state.ino !== stat.ino || stat.size < state.offset) {
      // Replaced (rotated) or truncated: the bytes at our offset are not the ones we read.
      this.opts.log.info('instance log file was truncated or replaced; reading it from the start', { file: f.file, offset: state.offset, size: stat.size });
      state.ino = stat.ino;
      state.offset = 0;
      state.lastLevel = undefined;
    }
    if (stat.size !== state.lastSize) {
      state.lastSize = stat.size;
      state.sizeChangedAt = now;
    }
    if (stat.size === state.offset && !this.capDue(state, stat.size, now, stat.mtimeMs)) return 0;

    // Lines carry no timestamp of their own; the file's mtime is when the newest of them was
    // written, which is exact while following and the best bound for a backlog.
    const at = Math.min(now, Math.round(stat.mtimeMs));
    let quiet = now - state.sizeChangedAt >= this.partialFlushMs;
    let total = 0;
    let end = stat.size;
    let grown = 0;
    let looks = 0;
    const fh = await fsp.open(f.file, 'r');
    try {
      const buf = Buffer.allocUnsafe(this.chunkBytes);
      while (!this.closing) {
        if (state.offset >= end) {
          // A tenant writing while this pass reads (a burst, a stack trace storm) is followed to
          // the end of what it wrote, within a budget: judging the file half read would empty it
          // with unindexed lines in it, or leave the burst for later passes.
          // A few looks at most: a tenant trickling a line at a time must not hold the pass (and
          // every other tenant's output) on its file until the byte budget is spent.
          if (looks++ === MAX_FOLLOW_LOOKS) break;
          const size = (await fh.stat()).size;
          if (size <= end) break;
          const more = Math.min(size - end, this.followBytes - grown);
          if (more <= 0) break;
          grown += more;
          end += more;
          quiet = false;
          state.lastSize = size;
          state.sizeChangedAt = now;
        }
        const want = Math.min(this.chunkBytes, end - state.offset);
        const { bytesRead } = await fh.read(buf, 0, want, state.offset);
        if (bytesRead === 0) break;
        const stored = this.index(f, state, buf.subarray(0, bytesRead), quiet && state.offset + bytesRead >= end, at, now);
        if (stored < 0) break;
        total += stored;
      }
    } finally {
      await fh.close();
    }
    // Behind: the file grew faster than this pass could follow it (its byte budget is spent).
    if (!this.closing) total += this.capFile(f, state, now, at, grown >= this.followBytes, stat.mtimeMs);
    return total;
  }

  /**
   * Indexes the complete lines at the start of `chunk` (read at state.offset) and moves the offset
   * past them. Returns the lines stored, or -1 when the chunk holds no complete line yet.
   */
  private index(f: LogFile, state: FileState, chunk: Buffer, flushPartial: boolean, at: number, now: number): number {
    const consumed = this.completePart(chunk, flushPartial);
    if (consumed === 0) return -1;
    const lines = this.toLines(f, chunk.subarray(0, consumed), at, state);
    const stored = this.opts.store.append(lines);
    this.opts.store.setOffset(f.file, state.offset + consumed, now);
    state.offset += consumed;
    if (stored.length > 0) {
      this.opts.feed?.publish(stored);
      this.opts.metrics?.observeLogLines({ service: f.service, instance: f.instance }, stored.length);
    }
    return stored.length;
  }

  /** Whether a file of this size and age is due to be emptied (issue 11 #7). */
  private capDue(state: FileState, size: number, now: number, mtimeMs: number): boolean {
    const limits = this.opts.fileLimits?.();
    if (!limits || size === 0) return false;
    return size >= limits.maxBytes || (limits.maxAgeMs > 0 && now - mtimeMs >= limits.maxAgeMs && size === state.offset);
  }

  /**
   * Keeps a captured file from growing without bound (issue 11 #7). The tenant holds the file open
   * with O_APPEND, so it cannot be renamed away (the tenant would keep writing to the old name);
   * it is truncated in place instead, and the tenant's next write lands at the new end, 0. Only
   * once everything in it is indexed: the store keeps the lines (under log_retention_*).
   *
   * Nothing tells a truncate to keep bytes written since the last look, so the last look and the
   * truncate are made back to back, synchronously, after indexing (also synchronously) whatever
   * arrived since the pass's last read: a line written in the microseconds between them is the
   * only one that can be lost. A file that is at least twice the cap while the pass could not
   * follow it (a tenant writing faster than indexing, for longer than the pass's budget) is
   * emptied anyway, and the unindexed bytes are reported. Returns the lines indexed here.
   */
  private capFile(f: LogFile, state: FileState, now: number, at: number, behind: boolean, mtimeMs: number): number {
    const limits = this.opts.fileLimits?.();
    // What this pass saw decides whether to look closer (most passes of most files: no).
    if (!limits || !this.capDue(state, state.lastSize, now, mtimeMs)) return 0;
    let fd: number;
    try {
      fd = fs.openSync(f.file, 'r+');
    } catch {
      return 0; // gone or unreadable: the next pass says so if it still is
    }
    let indexed = 0;
    try {
      let st = fs.fstatSync(fd);
      if (st.ino !== state.ino || !this.capDue(state, st.size, now, st.mtimeMs)) return 0;
      const tail = Buffer.allocUnsafe(this.chunkBytes);
      for (let tries = 0; tries < 3 && st.size > state.offset && st.size - state.offset <= this.chunkBytes; tries++) {
        const bytesRead = fs.readSync(fd, tail, 0, st.size - state.offset, state.offset);
        const stored = this.index(f, state, tail.subarray(0, bytesRead), false, at, now);
        if (stored < 0) break;
        indexed += stored;
        st = fs.fstatSync(fd);
      }
      const caughtUp = st.size === state.offset;
      if (!caughtUp && !(behind && st.size >= 2 * limits.maxBytes)) return indexed;
      fs.ftruncateSync(fd, 0);
      const dropped = st.size - state.offset;
      state.offset = 0;
      state.lastSize = 0;
      state.sizeChangedAt = now;
      this.opts.store.setOffset(f.file, 0, now);
      if (dropped > 0) {
        this.opts.log.warn('instance log file reached twice log_file_max_mb while its tenant wrote faster than it could be indexed; emptied it, losing unindexed output', {
          file: f.file,
          droppedBytes: dropped,
        });
      } else {
        this.opts.log.info('emptied an instance log file (its lines are in the log store)', {
          file: f.file,
          bytes: st.size,
          reason: st.size >= limits.maxBytes ? 'log_file_max_mb' : 'log_file_max_age_days',
        });
      }
      return indexed;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** How many bytes of `chunk` to index now: up to the last newline, or more for long/flushed lines. */
  private completePart(chunk: Buffer, flushPartial: boolean): number {
    const nl = chunk.lastIndexOf(10);
    if (nl >= 0) return nl + 1;
    if (flushPartial) return chunk.length;
    if (chunk.length >= this.maxLineBytes) return utf8Boundary(chunk, this.maxLineBytes);
    return 0;
  }

  private toLines(f: LogFile, bytes: Buffer, at: number, state: FileState): Omit<LogLine, 'id'>[] {
    const lines: Omit<LogLine, 'id'>[] = [];
    let start = 0;
    while (start < bytes.length) {
      let end = bytes.indexOf(10, start);
      if (end < 0) end = bytes.length;
      let pieceStart = start;
      // A line longer than maxLineBytes becomes several rows, cut at character boundaries.
      while (pieceStart < end) {
        const pieceEnd = end - pieceStart > this.maxLineBytes ? pieceStart + utf8Boundary(bytes.subarray(pieceStart, end), this.maxLineBytes) : end;
        const text = bytes.toString('utf8', pieceStart, pieceEnd).replace(/\r$/, '');
        if (text.trim() !== '') {
          const level = detectLevel(text, f.stream, state.lastLevel);
          state.lastLevel = level;
          lines.push({ service: f.service, instance: f.instance, stream: f.stream, level, at, text });
        }
        pieceStart = pieceEnd;
      }
      start = end + 1;
    }
    return lines;
  }
}

/** The largest n <= max such that bytes[0..n) does not end inside a UTF-8 sequence (at least 1). */
function utf8Boundary(bytes: Buffer, max: number): number {
  let n = Math.min(max, bytes.length);
  if (n === bytes.length) return n;
  // Back off over continuation bytes (10xxxxxx) to the start of the character that straddles the cut.
  let i = n;
  while (i > 0 && (bytes[i]! & 0xc0) === 0x80) i--;
  n = i > 0 ? i : n;
  return n;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}
