// Watching tenement.toml for edits. The file's folder is watched rather than the file: editors
// that save by writing a temp file and renaming it over the original (vim, most IDEs, `sed -i`)
// replace the inode, and a watch on the old inode would go quiet after the first save. Every
// event for the file (change, add after a rename, unlink) restarts a short quiet period; when the
// period ends without another event, one reload runs. A burst of writes is one reload.
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../util/logger.js';

export interface ConfigWatcherOptions {
  file: string;
  /** Called once per burst of edits, after `debounceMs` without another event. */
  onChange: (reason: string) => void;
  /** Quiet period after the last event. Default 150 ms. */
  debounceMs?: number | undefined;
  /** A burst that never goes quiet still reloads at least this often. Default 2000 ms. */
  maxWaitMs?: number;
  log?: Logger;
}

export class ConfigWatcher {
  readonly file: string;
  private readonly dir: string;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private burstStarted: number | undefined;
  private events: string[] = [];
  private closed = false;

  constructor(private readonly opts: ConfigWatcherOptions) {
    this.file = path.resolve(opts.file);
    this.dir = path.dirname(this.file);
  }

  /** Resolves once the watch is in place: edits made after this are seen. */
  start(): Promise<void> {
    if (this.watcher) throw new Error('ConfigWatcher already started');
    const watcher = watch(this.dir, {
      ignoreInitial: true,
      depth: 0,
      // Only the folder itself and the config file: editor swap files, backups and a data dir
      // next to the config are none of our business.
      ignored: (p: string) => {
        const abs = path.resolve(p);
        return abs !== this.dir && abs !== this.file;
      },
      // Rename-saves show up as unlink + add; chokidar folds a quick pair into one 'change'.
      atomic: true,
    });
    this.watcher = watcher;
    for (const event of ['add', 'change', 'unlink'] as const) {
      watcher.on(event, (p: string) => {
        if (path.resolve(p) === this.file) this.saw(event);
      });
    }
    watcher.on('error', (err) => this.opts.log?.warn('config file watch error', { file: this.file, error: (err as Error).message }));
    return new Promise((resolve) => watcher.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.watcher?.close();
    this.watcher = undefined;
  }

  private saw(event: string): void {
    if (this.closed) return;
    this.events.push(event);
    const now = Date.now();
    this.burstStarted ??= now;
    if (this.timer) clearTimeout(this.timer);
    const quiet = this.opts.debounceMs ?? 150;
    const maxWait = this.opts.maxWaitMs ?? 2000;
    const wait = Math.max(0, Math.min(quiet, this.burstStarted + maxWait - now));
    this.timer = setTimeout(() => this.fire(), wait);
  }

  private fire(): void {
    this.timer = undefined;
    this.burstStarted = undefined;
    const events = this.events.splice(0);
    if (this.closed) return;
    const unique = [...new Set(events)];
    this.opts.onChange(`file ${unique.join('/')}${events.length > 1 ? ` (${events.length} events)` : ''}`);
  }
}
