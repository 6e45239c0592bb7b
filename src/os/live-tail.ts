/**
 * Live tail of service log files for /ws subscribers. The child writes its files itself; this only
 * watches them (inotify via fs.watch, with a slow poll as a safety net) and reads what was appended,
 * so the orchestrator is never in the data path of a service's output.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { serviceLogPath, type Stream } from './logs.js';

export type LinesHandler = (service: string, stream: Stream, lines: string[]) => void;

/** Read at most this much per wake-up; a writer faster than that has its excess skipped (and said so). */
const MAX_READ = 256 * 1024;
const POLL_MS = 1000;

interface Watched {
  service: string;
  stream: Stream;
  file: string;
  offset: number;
  partial: string;
  watcher: FSWatcher | null;
}

export class LiveTail {
  private readonly watched = new Map<string, Watched[]>();
  private poll: NodeJS.Timeout | null = null;

  constructor(private readonly logDir: string, private readonly onLines: LinesHandler) {}

  /** Start following a service's stdout and stderr from their current ends. */
  follow(service: string): void {
    if (this.watched.has(service)) return;
    const entries = (['stdout', 'stderr'] as Stream[]).map((stream): Watched => {
      const file = serviceLogPath(this.logDir, service, stream);
      const w: Watched = { service, stream, file, offset: sizeOf(file), partial: '', watcher: null };
      this.rewatch(w);
      return w;
    });
    this.watched.set(service, entries);
    if (!this.poll) {
      this.poll = setInterval(() => { for (const list of this.watched.values()) for (const w of list) { if (!w.watcher) this.rewatch(w); this.read(w); } }, POLL_MS);
      this.poll.unref();
    }
  }

  unfollow(service: string): void {
    for (const w of this.watched.get(service) ?? []) w.watcher?.close();
    this.watched.delete(service);
    if (this.watched.size === 0 && this.poll) { clearInterval(this.poll); this.poll = null; }
  }

  close(): void {
    for (const service of [...this.watched.keys()]) this.unfollow(service);
  }

  private rewatch(w: Watched): void {
    try {
      w.watcher = watch(w.file, { persistent: false }, (event) => {
        // A rename means the file was rotated away: watch the new one from its start.
        if (event === 'rename') { w.watcher?.close(); w.watcher = null; this.read(w); }
        else this.read(w);
      });
      w.watcher.on('error', () => { w.watcher?.close(); w.watcher = null; });
    } catch {
      w.watcher = null; // the file does not exist yet; the poll retries
    }
  }

  private read(w: Watched): void {
    let fd: number;
    try {
      fd = openSync(w.file, 'r');
    } catch {
      return;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < w.offset) { w.offset = 0; w.partial = ''; } // truncated or replaced
      if (size === w.offset) return;
      let start = w.offset;
      const lines: string[] = [];
      if (size - start > MAX_READ) {
        lines.push(`[orchestrator: ${size - start - MAX_READ} bytes skipped in the live view; they are in the log file]`);
        start = size - MAX_READ;
        w.partial = '';
      }
      const buf = Buffer.allocUnsafe(size - start);
      const n = readSync(fd, buf, 0, buf.length, start);
      w.offset = start + n;
      const text = w.partial + buf.subarray(0, n).toString('utf8');
      const parts = text.split('\n');
      w.partial = parts.pop() ?? '';
      lines.push(...parts);
      if (lines.length) this.onLines(w.service, w.stream, lines);
    } finally {
      closeSync(fd);
    }
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
