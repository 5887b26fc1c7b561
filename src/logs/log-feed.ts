// Fan-out of freshly indexed log lines to live followers (the SSE stream). Each subscriber has a
// bounded queue: a reader that cannot keep up loses the oldest-undelivered lines and is told how
// many, instead of either losing them silently or making the capture side wait (or buffer without
// limit) for the slowest reader.
import type { LogLine } from '../store/types.js';

export type FeedItem = { kind: 'lines'; lines: LogLine[] } | { kind: 'missed'; count: number; fromId: number; toId: number };

export interface SubscribeOptions {
  /** Which lines this subscriber wants. */
  filter?: (line: LogLine) => boolean;
  /** Lines queued before the subscriber counts as slow. Default 1000. */
  capacity?: number;
}

interface Gap {
  gap: true;
  count: number;
  fromId: number;
  toId: number;
}

export class FeedSubscription {
  /** Lines and gaps in delivery order; only lines count against the capacity. */
  private pending: (LogLine | Gap)[] = [];
  private queuedLines = 0;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly filter: (line: LogLine) => boolean,
    private readonly capacity: number,
    private readonly onClose: (s: FeedSubscription) => void,
  ) {}

  /** Called by the feed. Never blocks. */
  push(lines: readonly LogLine[]): void {
    if (this.closed) return;
    let changed = false;
    for (const line of lines) {
      if (!this.filter(line)) continue;
      changed = true;
      if (this.queuedLines >= this.capacity) {
        // Drop the new line rather than queued ones: what the reader gets stays in order, and
        // the gap sits exactly where the lines were lost.
        const last = this.pending[this.pending.length - 1];
        if (last && 'gap' in last) {
          last.count++;
          last.toId = line.id;
        } else {
          this.pending.push({ gap: true, count: 1, fromId: line.id, toId: line.id });
        }
        continue;
      }
      this.pending.push(line);
      this.queuedLines++;
    }
    if (changed) this.notify();
  }

  /**
   * Waits for the next item: the queued lines up to the next gap, or the gap (how many lines were
   * dropped while the queue was full, and their id range). Resolves undefined once the
   * subscription is closed or `signal` aborts.
   */
  async next(signal?: AbortSignal): Promise<FeedItem | undefined> {
    for (;;) {
      if (this.closed || signal?.aborted) return undefined;
      const first = this.pending[0];
      if (first && 'gap' in first) {
        this.pending.shift();
        return { kind: 'missed', count: first.count, fromId: first.fromId, toId: first.toId };
      }
      if (first) {
        let end = 0;
        while (end < this.pending.length && !('gap' in this.pending[end]!)) end++;
        const lines = this.pending.splice(0, end) as LogLine[];
        this.queuedLines -= lines.length;
        return { kind: 'lines', lines };
      }
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.queuedLines = 0;
    this.notify();
    this.onClose(this);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

export class LogFeed {
  private readonly subscribers = new Set<FeedSubscription>();

  subscribe(opts: SubscribeOptions = {}): FeedSubscription {
    const capacity = opts.capacity ?? 1000;
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`feed capacity must be a positive integer, got ${capacity}`);
    const sub = new FeedSubscription(opts.filter ?? (() => true), capacity, (s) => this.subscribers.delete(s));
    this.subscribers.add(sub);
    return sub;
  }

  publish(lines: readonly LogLine[]): void {
    if (lines.length === 0) return;
    for (const sub of this.subscribers) sub.push(lines);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }
}
