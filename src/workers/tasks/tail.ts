/** The last N lines of a log file, read backwards in chunks so a large file costs only its tail. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface TailTask {
  file: string;
  lines: number;
  /** Refuse to read more than this many bytes from the end (protects the pool from huge lines). */
  maxBytes?: number;
}

export interface TailResult {
  lines: string[];
  /** File size when read: a live tail continues from here. */
  size: number;
  truncated: boolean;
}

const CHUNK = 64 * 1024;

export function tail({ file, lines, maxBytes = 16 * 1024 * 1024 }: TailTask): TailResult {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], size: 0, truncated: false };
    throw e;
  }
  try {
    const size = fstatSync(fd).size;
    let pos = size;
    let newlines = 0;
    const chunks: Buffer[] = [];
    let read = 0;
    // One extra newline: the file usually ends with one.
    while (pos > 0 && newlines <= lines && read < maxBytes) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const buf = Buffer.allocUnsafe(len);
      readSync(fd, buf, 0, len, pos);
      for (let i = 0; i < len; i++) if (buf[i] === 10) newlines++;
      chunks.unshift(buf);
      read += len;
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const all = text.split('\n');
    if (all[all.length - 1] === '') all.pop();
    if (pos > 0 && all.length > lines) all.shift(); // first line may be partial
    const truncated = pos > 0;
    return { lines: all.slice(-lines), size, truncated };
  } finally {
    closeSync(fd);
  }
}
