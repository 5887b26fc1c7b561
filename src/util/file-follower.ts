// Following a file that another process appends to (tail -F): new complete lines are delivered in
// order; a partial last line waits for its newline; truncation or rotation (a new inode, or a size
// below what was read) restarts from the beginning of the new file.
import fs from 'node:fs';

export interface FollowerOptions {
  file: string;
  /** Byte offset to start from; 'end' skips what is there now. */
  from: number | 'end';
  pollMs?: number;
  /** Receives complete lines and the byte offset just after them (to persist and resume from). */
  onLines: (lines: string[], offset: number) => void;
  onError?: (err: Error) => void;
  /** Upper bound on bytes read per poll, so a huge backlog never blocks the event loop for long. */
  chunkBytes?: number;
}

export class FileFollower {
  private offset = 0;
  private inode: number | undefined;
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  /** The read in progress; reads never overlap. */
  private reading: Promise<void> | undefined;
  private started = false;

  constructor(private readonly opts: FollowerOptions) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    try {
      const st = fs.statSync(this.opts.file);
      this.inode = st.ino;
      this.offset = this.opts.from === 'end' ? st.size : Math.min(this.opts.from, st.size);
    } catch {
      this.offset = 0;
    }
    // A tick finding a read in progress skips: that read or the next tick gets the new lines.
    this.timer = setInterval(() => void (this.reading ?? this.poll()), this.opts.pollMs ?? 200);
    this.timer.unref();
    void this.poll();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Reads whatever is new now (also used by tests instead of waiting for the timer). Everything
   * written before the call has been delivered when it resolves: a read already in progress may
   * have looked at the file too early, so this one waits for it and then reads again.
   */
  async poll(): Promise<void> {
    while (this.reading) await this.reading;
    this.reading = this.read();
    try {
      await this.reading;
    } finally {
      this.reading = undefined;
    }
  }

  private async read(): Promise<void> {
    try {
      let st: fs.Stats;
      try {
        st = await fs.promises.stat(this.opts.file);
      } catch {
        return; // not created yet, or between rotation steps
      }
      if (this.inode !== undefined && st.ino !== this.inode) {
        this.offset = 0;
        this.partial = '';
      } else if (st.size < this.offset) {
        this.offset = 0;
        this.partial = '';
      }
      this.inode = st.ino;
      const chunk = this.opts.chunkBytes ?? 1 << 20;
      while (st.size > this.offset) {
        const len = Math.min(chunk, st.size - this.offset);
        const buf = Buffer.alloc(len);
        const fh = await fs.promises.open(this.opts.file, 'r');
        let read: number;
        try {
          ({ bytesRead: read } = await fh.read(buf, 0, len, this.offset));
        } finally {
          await fh.close();
        }
        if (read <= 0) break;
        this.offset += read;
        const text = this.partial + buf.subarray(0, read).toString('utf8');
        const parts = text.split('\n');
        this.partial = parts.pop() ?? '';
        const lines = parts.filter((l) => l.length > 0);
        // The offset handed out is where the complete lines end, so a resume never splits a line.
        if (lines.length > 0) this.opts.onLines(lines, this.offset - Buffer.byteLength(this.partial));
      }
    } catch (err) {
      this.opts.onError?.(err as Error);
    }
  }
}
