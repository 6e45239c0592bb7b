/**
 * Log work for the piscina pool, so the main thread never reads a big file:
 *   readLog   last N lines, lines since a time, or a search (text or regex), newest first,
 *             across the live file and its gzipped archives, with caps on lines and time
 *   rotateLog move the head of a live log into a gzipped archive, in place and losslessly
 * Stateless: every call gets the file layout it needs (src/logs/layout.ts).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { archivePath, decodeMarks, livePath, type StreamFiles, type StreamState } from '../../logs/layout.js';
import type { Stream } from '../../os/logs.js';
import { maskLine } from '../../os/secrets.js';

export interface LogLine {
  line: string;
  /** Logical offset of the line's first byte in its stream. */
  offset: number;
  /** Wall-clock ms by which the line had been written (from the time marks), null if newer than the last mark. */
  at: number | null;
}

export interface ReadLogTask {
  files: StreamFiles;
  mode: 'tail' | 'since' | 'search';
  /** At most this many lines (tail: the last ones; since: the first ones; search: the newest matches). */
  lines: number;
  /** mode since: wall-clock ms. */
  since?: number;
  /** mode search: plain text (case-insensitive) or a regular expression source. */
  text?: string;
  regex?: string;
  /** Stop scanning after this long and say so. */
  budgetMs?: number;
  /**
   * Secret values (longest first) replaced by *** in every line before it is matched or returned,
   * so a search sees only masked text: searching for a secret (or a part of it) finds nothing.
   */
  mask?: string[];
}

export interface ReadLogResult {
  lines: LogLine[];
  /** More lines matched or existed than were returned, or the time budget ran out. */
  truncated: boolean;
  timedOut: boolean;
  scannedBytes: number;
}

interface Source {
  start: number;
  load(): Buffer;
}

/** The stream's kept bytes as sources, oldest first (each loaded only when needed). */
function sources(files: StreamFiles): Source[] {
  const out: Source[] = files.archives.filter((a) => !a.partial).map((a) => ({ start: a.start, load: () => gunzipSync(readFileSync(a.path)) }));
  const { base, dataStart } = files.state;
  out.push({ start: base + dataStart, load: () => readRange(files.current, dataStart) });
  return out;
}

function readRange(path: string, from: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.max(0, size - from);
    const buf = Buffer.allocUnsafe(len);
    const n = len ? readSync(fd, buf, 0, len, from) : 0;
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Time of a logical offset: the first mark at or past it (the line was written by then). */
function timeOf(marks: Array<[number, number]>, offset: number): number | null {
  let lo = 0;
  let hi = marks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid]![1] > offset) hi = mid; else lo = mid + 1;
  }
  return lo < marks.length ? marks[lo]![0] : null;
}

function loadMarks(path: string): Array<[number, number]> {
  try {
    return decodeMarks(readFileSync(path)).sort((a, b) => a[1] - b[1]);
  } catch {
    return [];
  }
}

/**
 * Walk the stream's lines newest first. Archives are cut at block boundaries, so a line can
 * straddle sources: the fragment before a source's first newline is carried to the older source
 * and completed with that source's last fragment.
 */
function* linesNewestFirst(srcs: Source[], stats: { bytes: number }): Generator<{ line: string; offset: number }> {
  let carry = null as { text: string; offset: number } | null;
  for (let i = srcs.length - 1; i >= 0; i--) {
    const src = srcs[i]!;
    const buf = src.load();
    stats.bytes += buf.length;
    const parts = buf.toString('utf8').split('\n');
    // Byte offsets of each fragment (utf8 lengths, not string indices).
    const starts: number[] = [];
    let pos = src.start;
    for (const p of parts) { starts.push(pos); pos += Buffer.byteLength(p) + 1; }
    const last = parts.length - 1;
    const right: string = parts[last]! + (carry?.text ?? '');
    if (last === 0) {
      carry = { text: right, offset: starts[0]! };
      continue;
    }
    // A file ending in a newline has an empty last fragment; an unfinished newest line is still shown.
    if (right !== '') yield { line: right, offset: starts[last]! };
    for (let j = last - 1; j >= 1; j--) yield { line: parts[j]!, offset: starts[j]! };
    carry = { text: parts[0]!, offset: starts[0]! };
  }
  if (carry && carry.text !== '') yield { line: carry.text, offset: carry.offset };
}

export function readLog(task: ReadLogTask): ReadLogResult {
  const started = performance.now();
  const budget = task.budgetMs ?? 2000;
  const marks = loadMarks(task.files.marks);
  const stats = { bytes: 0 };
  const srcs = sources(task.files);
  const mask = task.mask?.length ? task.mask : null;
  const walk = mask ? () => masked(linesNewestFirst(srcs, stats), mask) : () => linesNewestFirst(srcs, stats);
  const out: LogLine[] = [];
  let truncated = false;
  let timedOut = false;
  const add = (l: { line: string; offset: number }) => out.push({ line: l.line, offset: l.offset, at: timeOf(marks, l.offset) });

  if (task.mode === 'since') {
    // Bytes past the last mark at or before `since` were written after it (within a mark interval).
    const since = task.since ?? 0;
    let from = 0;
    for (const [at, off] of marks) if (at <= since) from = Math.max(from, off);
    const older: LogLine[] = [];
    for (const l of walk()) {
      if (l.offset < from) break;
      older.push({ line: l.line, offset: l.offset, at: timeOf(marks, l.offset) });
      if (performance.now() - started > budget) { timedOut = true; break; }
    }
    older.reverse();
    truncated = older.length > task.lines || timedOut;
    return { lines: older.slice(0, task.lines), truncated, timedOut, scannedBytes: stats.bytes };
  }

  const match = task.mode === 'search' ? matcher(task) : () => true;
  for (const l of walk()) {
    if (out.length >= task.lines) { truncated = true; break; }
    if (match(l.line)) add(l);
    if ((out.length & 63) === 0 && performance.now() - started > budget) { timedOut = true; truncated = true; break; }
  }
  // tail: oldest first like a file; search: newest first.
  if (task.mode === 'tail') out.reverse();
  return { lines: out, truncated, timedOut, scannedBytes: stats.bytes };
}

function* masked(lines: Iterable<{ line: string; offset: number }>, values: string[]): Generator<{ line: string; offset: number }> {
  for (const l of lines) yield { line: maskLine(l.line, values), offset: l.offset };
}

function matcher(task: ReadLogTask): (line: string) => boolean {
  if (task.regex !== undefined) {
    const re = new RegExp(task.regex);
    return (line) => re.test(line);
  }
  const needle = (task.text ?? '').toLowerCase();
  return (line) => line.toLowerCase().includes(needle);
}

// ---------------------------------------------------------------------------------------------

export interface RotateTask {
  dir: string;
  id: string;
  stream: Stream;
  /** The stream's layout before this rotation. */
  state: StreamState;
  /** Bytes to move into the archive (a multiple of 4096, less than the data in the file). */
  length: number;
  /** Remove them without archiving (a flood beyond the cap: they would be deleted at once anyway). */
  discard?: boolean;
}

export interface RotateResult {
  /** collapse: removed in place; punch: freed in place (the file keeps its apparent size); truncate: copied then emptied (last resort). */
  method: 'collapse' | 'punch' | 'truncate';
  /** Bytes that left the live file (for truncate, possibly more than asked). */
  length: number;
  /** The archive written (null when discarding). */
  archive: string | null;
  compressedBytes: number;
}

/**
 * Archive the head of a live log and remove it in place. The archive is complete and on disk
 * before anything leaves the live file, so a crash in between duplicates bytes, never loses them.
 */
export function rotateLog(task: RotateTask): RotateResult {
  const file = livePath(task.dir, task.id, task.stream);
  const { base, dataStart } = task.state;
  const logicalStart = base + dataStart;
  const writeArchive = (data: Buffer, start: number): { path: string; bytes: number } => {
    const path = archivePath(task.dir, task.id, task.stream, start, start + data.length);
    const gz = gzipSync(data, { level: 6 });
    // No fsync: the archive is in the page cache before anything leaves the live file, which is
    // all a crash of any process needs; the live file itself is not synced by the service either,
    // and an fsync here can stall for the whole journal (every dirty log block) on ext4.
    const fd = openSync(`${path}.part`, 'w');
    try {
      writeSync(fd, gz);
    } finally {
      closeSync(fd);
    }
    return { path, bytes: gz.length };
  };
  const fallocate = (args: string[]) => {
    try {
      execFileSync('fallocate', [...args, file], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  const data = task.discard ? Buffer.alloc(0) : readSlice(file, dataStart, task.length);
  const length = task.discard ? task.length : data.length;
  const archive = task.discard ? null : writeArchive(data, logicalStart);
  let method: RotateResult['method'];
  if (dataStart === 0 && fallocate(['--collapse-range', '--offset', '0', '--length', String(length)])) {
    method = 'collapse';
  } else if (fallocate(['--punch-hole', '--offset', String(dataStart), '--length', String(length)])) {
    method = 'punch';
  } else {
    // No in-place removal on this filesystem: archive the rest too and empty the file. Bytes
    // written between the last read and the truncate are lost; the caller reports this.
    if (archive) unlinkSync(`${archive.path}.part`);
    const rest = readSlice(file, dataStart + length, Number.MAX_SAFE_INTEGER);
    const all = task.discard ? rest : Buffer.concat([data, rest]);
    const whole = writeArchive(all, task.discard ? logicalStart + length : logicalStart);
    const live = openSync(file, 'r+');
    try { ftruncateSync(live, 0); } finally { closeSync(live); }
    renameSync(`${whole.path}.part`, whole.path);
    return { method: 'truncate', length: length + rest.length, archive: whole.path, compressedBytes: whole.bytes };
  }
  if (archive) renameSync(`${archive.path}.part`, archive.path);
  return { method, length, archive: archive?.path ?? null, compressedBytes: archive?.bytes ?? 0 };
}

function readSlice(path: string, from: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Math.max(0, Math.min(length, size - from));
    const buf = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const n = readSync(fd, buf, done, len - done, from + done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** Compress a closed file to <path>.gz and remove the original (the orchestrator's own rotated log). */
export function gzipFile({ path }: { path: string }): { path: string; bytes: number } {
  const gz = gzipSync(readFileSync(path), { level: 6 });
  const fd = openSync(`${path}.gz`, 'w');
  try {
    writeSync(fd, gz);
  } finally {
    closeSync(fd);
  }
  unlinkSync(path);
  return { path: `${path}.gz`, bytes: gz.length };
}
