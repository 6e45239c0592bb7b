/**
 * Following one live log file for the feed: someone watches a service's logs, so each line the
 * child appends is read once, soon after it is written, and handed on whole (an unfinished last
 * line waits for its end). A file-system watch says when to read; the log store's own looks at the
 * file (store.ts) read too, so a missed notification delays lines, never loses them. A writer
 * faster than the feed can carry has the excess skipped in the live view, with a line saying so —
 * the file keeps every byte.
 */
import { closeSync, fstatSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';
import { sizeOf } from './layout.js';
import { MAX_FOLLOW_READ } from './timing.js';

export class Follower {
  /** Physical offset in the live file read so far. */
  private offset: number;
  /** The unfinished last line. */
  private partial = '';
  private watcher: FSWatcher | null = null;
  /** Nobody follows any more: a late notification reads nothing and watches nothing. */
  private closed = false;

  /**
   * Follow `file` from its current end. `dataStart` is where real data begins in it (after a
   * punch-hole rotation, the bytes before are a hole).
   */
  constructor(private readonly file: string, private readonly dataStart: () => number, private readonly deliver: (lines: string[]) => void) {
    this.offset = sizeOf(file);
    this.watch();
  }

  /** Hand on the lines appended since the last read. */
  read(): void {
    if (this.closed) return;
    if (!this.watcher) this.watch();
    let fd: number;
    try { fd = openSync(this.file, 'r'); } catch { return; }
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) { this.offset = 0; this.partial = ''; } // replaced by hand
      if (size === this.offset) return;
      const lines: string[] = [];
      let from = Math.max(this.offset, this.dataStart());
      if (size - from > MAX_FOLLOW_READ) {
        lines.push(`[orchestrator: ${size - from - MAX_FOLLOW_READ} bytes skipped in the live view; they are in the log file]`);
        from = size - MAX_FOLLOW_READ;
        this.partial = '';
      }
      const buf = Buffer.allocUnsafe(size - from);
      const n = readSync(fd, buf, 0, buf.length, from);
      this.offset = from + n;
      const parts = (this.partial + buf.subarray(0, n).toString('utf8')).split('\n');
      this.partial = parts.pop() ?? '';
      lines.push(...parts);
      if (lines.length) this.deliver(lines);
    } finally {
      closeSync(fd);
    }
  }

  /** A rotation collapsed `bytes` off the head of the file: what was read moved back with it. */
  shifted(bytes: number): void {
    this.offset = Math.max(0, this.offset - bytes);
  }

  close(): void {
    this.closed = true;
    this.unwatch();
  }

  private watch(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.file, { persistent: false }, () => this.read());
      this.watcher.on('error', () => this.unwatch()); // the next read watches again
    } catch {
      // Not created yet: the store's next look reads it once it exists, and watches it then.
    }
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = null;
  }
}
