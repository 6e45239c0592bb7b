/**
 * The main thread's view of every service log. It never sits in the data path (children write
 * their own files) and never reads a big file: it stats the live files on a tick, and
 *   - writes a time mark (wall ms, logical offset) at most once a second when a stream grew, so any
 *     line can be placed in time within about a second (?since=);
 *   - rotates a stream past logs.max_size in the piscina pool (lossless, in place), keeps
 *     logs.keep archives per stream and logs.max_total bytes per service;
 *   - follows streams someone watches (fs.watch) and hands their new lines to the feed;
 *   - notices a full or unwritable disk, reports it, and carries on.
 * Its periods (marks, scans, disk checks) run on the boot clock, so a wall-clock jump pauses
 * none of them; only the time written into a mark is wall-clock, as readers ask by wall time.
 */
import {
  closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statfsSync, statSync, unlinkSync, watch, writeSync,
  type FSWatcher,
} from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import { serviceLogDir, type Stream } from '../os/logs.js';
import type { CpuPool } from '../workers/cpu-pool.js';
import { bootNow } from '../clock.js';
import {
  encodeMark, listArchives, livePath, marksPath, readState, STREAMS, writeState,
  type Archive, type StreamFiles, type StreamState,
} from './layout.js';

export interface LogLimits {
  /** Rotate a live file once it holds this many bytes. */
  maxSize: number;
  /** Archives kept per stream. */
  keep: number;
  /** Bytes on disk per service, live files and archives of both streams together. */
  maxTotal: number;
}

export type LinesHandler = (service: string, stream: Stream, lines: string[]) => void;
export type ConditionHandler = (key: string, message: string | null) => void;

const BLOCK = 4096;
/** Timer for time marks still owed and the disk check. */
const TICK_MS = 1000;
/** A written file is looked at this soon after the file-system notification (several writes, one look). */
const CHANGE_DELAY_MS = 20;
/** Every live file is also looked at this often, in case a notification was missed. */
const FULL_SCAN_MS = 10_000;
const MARK_EVERY_MS = 1000;
/** Read at most this much per wake-up for a live follower; a faster writer has the excess skipped (and said so). */
const MAX_FOLLOW_READ = 256 * 1024;
const DISK_CHECK_MS = 10_000;
/** While a disk condition stands, look again sooner so logging is reported back soon after space returns. */
const DISK_RECHECK_MS = 1_000;
/** Free space below this (or below 5 % of a small disk) is reported. */
const DISK_LOW_BYTES = 64 * 1024 * 1024;

interface StreamTrack {
  service: string;
  stream: Stream;
  file: string;
  state: StreamState;
  archives: Archive[];
  /** Physical size seen at the last tick. */
  size: number;
  /** Boot-clock time of the last mark written. */
  lastMarkAt: number;
  markedOffset: number;
  marksFd: number | null;
  rotating: boolean;
  /** Live followers: physical offset read so far and the unfinished last line. */
  follow: { offset: number; partial: string; watcher: FSWatcher | null } | null;
}

export class LogStore {
  private readonly dir: string;
  private readonly streams = new Map<string, StreamTrack[]>();
  private timer: NodeJS.Timeout | null = null;
  private dirWatcher: FSWatcher | null = null;
  private readonly byFile = new Map<string, StreamTrack>();
  /** Streams written since they were last looked at. */
  private readonly changed = new Set<StreamTrack>();
  private changeTimer: NodeJS.Timeout | null = null;
  /** Streams that grew within the last second and still owe a time mark. */
  private readonly owed = new Set<StreamTrack>();
  /** Boot-clock times (bootNow) of the last full scan and disk check. */
  private lastFullScan = 0;
  private lastDiskCheck = 0;
  private lossyWarned = false;
  private readonly conditions = new Set<string>();

  constructor(
    logDir: string,
    private readonly limits: LogLimits,
    private readonly pool: CpuPool,
    private readonly log: Logger,
    private readonly onLines: LinesHandler,
    private readonly onCondition: ConditionHandler,
    private readonly onDropped: (service: string, stream: Stream, bytes: number) => void = () => undefined,
  ) {
    this.dir = serviceLogDir(logDir);
  }

  start(): void {
    try { mkdirSync(this.dir, { recursive: true }); } catch (err) { this.condition('log_dir', `cannot create ${this.dir}: ${(err as Error).message}`); }
    this.watchDir();
    // Services log most right after they start: have a worker ready (it leaves after 30 s idle).
    this.pool.warm();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.changeTimer) clearTimeout(this.changeTimer);
    this.dirWatcher?.close();
    this.dirWatcher = null;
    this.timer = null;
    this.changeTimer = null;
    this.changed.clear();
    this.owed.clear();
    for (const id of [...this.streams.keys()]) this.untrack(id);
  }

  /** Start keeping a service's logs (idempotent). Recovers from a rotation a crash interrupted. */
  track(service: string): void {
    if (this.streams.has(service)) return;
    const tracks = STREAMS.map((stream) => this.recover(service, stream));
    this.streams.set(service, tracks);
    for (const t of tracks) this.byFile.set(basename(t.file), t);
  }

  untrack(service: string): void {
    for (const t of this.streams.get(service) ?? []) {
      t.follow?.watcher?.close();
      if (t.marksFd !== null) closeSync(t.marksFd);
      this.byFile.delete(basename(t.file));
      this.changed.delete(t);
      this.owed.delete(t);
    }
    this.streams.delete(service);
  }

  /** The files a reader needs for one stream (the pool reads them). */
  files(service: string, stream: Stream): StreamFiles {
    const t = this.streams.get(service)?.find((s) => s.stream === stream);
    const state = t?.state ?? readState(this.dir, service, stream);
    return {
      current: livePath(this.dir, service, stream),
      state: { ...state },
      archives: (t?.archives ?? listArchives(this.dir, service, stream)).map((a) => ({ ...a })),
      marks: marksPath(this.dir, service, stream),
    };
  }

  /** Bytes on disk for a service (live data and archives), as the cap counts them. */
  diskUse(service: string): number {
    let total = 0;
    for (const t of this.streams.get(service) ?? []) total += this.streamBytes(t);
    return total;
  }

  /** Live lines of a service go to onLines from now on (until unfollow). */
  follow(service: string): void {
    this.track(service);
    for (const t of this.streams.get(service) ?? []) {
      if (t.follow) continue;
      t.follow = { offset: sizeOf(t.file), partial: '', watcher: null };
      this.watchLive(t);
    }
  }

  unfollow(service: string): void {
    for (const t of this.streams.get(service) ?? []) {
      t.follow?.watcher?.close();
      t.follow = null;
    }
  }

  // ------------------------------------------------------------------------------------------

  private recover(service: string, stream: Stream): StreamTrack {
    const state = readState(this.dir, service, stream);
    let archives = listArchives(this.dir, service, stream);
    for (const part of archives.filter((a) => a.partial)) this.finishInterrupted(service, stream, state, part);
    archives = listArchives(this.dir, service, stream).filter((a) => !a.partial);
    const file = livePath(this.dir, service, stream);
    const size = sizeOf(file);
    return {
      service, stream, file, state, archives, size,
      lastMarkAt: 0, markedOffset: state.base + size, marksFd: null, rotating: false, follow: null,
    };
  }

  /**
   * A rotation was cut short by a crash: its archive (.part) is complete, but did its bytes leave
   * the live file? If the live data still starts with them, no: drop the part. Otherwise yes:
   * finish the bookkeeping (zeros where the data was mean a punched hole, else a collapse).
   */
  private finishInterrupted(service: string, stream: Stream, state: StreamState, part: Archive): void {
    const final = part.path.replace(/\.part$/, '');
    try {
      const at = state.base + state.dataStart;
      if (at >= part.end) { renameSync(part.path, final); return; }
      const archived = gunzipSync(readFileSync(part.path));
      const probe = Math.min(archived.length, BLOCK);
      const live = readBytes(livePath(this.dir, service, stream), state.dataStart, probe);
      if (live.equals(archived.subarray(0, probe))) { unlinkSync(part.path); return; }
      const length = part.end - part.start;
      if (live.every((b) => b === 0)) state.dataStart += length; else state.base += length;
      writeState(this.dir, service, stream, state);
      renameSync(part.path, final);
      this.log.warn({ service, stream, archive: final }, 'finished a log rotation interrupted by a crash');
    } catch (err) {
      this.log.error({ err, service, stream, part: part.path }, 'cannot recover an interrupted log rotation');
    }
  }

  /**
   * One inotify watch on the folder tells which live files were written (the kernel folds repeated
   * notifications, so a fast writer costs a handful per look); only those are looked at.
   */
  private watchDir(): void {
    try {
      this.dirWatcher = watch(this.dir, { persistent: false }, (_event, name) => {
        const t = name ? this.byFile.get(String(name)) : undefined;
        if (!t) return;
        this.changed.add(t);
        this.changeTimer ??= setTimeout(() => {
          this.changeTimer = null;
          const now = bootNow();
          for (const c of this.changed) this.check(c, now);
          this.changed.clear();
        }, CHANGE_DELAY_MS);
      });
      this.dirWatcher.on('error', () => { this.dirWatcher?.close(); this.dirWatcher = null; });
    } catch (err) {
      this.log.warn({ err, dir: this.dir }, 'cannot watch the log folder; falling back to looking every second');
    }
  }

  private tick(): void {
    const now = bootNow();
    const full = !this.dirWatcher || now - this.lastFullScan >= FULL_SCAN_MS;
    if (full) {
      this.lastFullScan = now;
      if (!this.dirWatcher) this.watchDir();
      for (const tracks of this.streams.values()) for (const t of tracks) this.check(t, now);
    } else {
      for (const t of this.owed) this.check(t, now);
    }
    if (now - this.lastDiskCheck >= (this.conditions.size ? DISK_RECHECK_MS : DISK_CHECK_MS)) this.checkDisk(now);
  }

  /** Stat one live file: follow its new lines, mark its time, rotate it when full. `now` is bootNow(). */
  private check(t: StreamTrack, now: number): void {
    const size = sizeOf(t.file);
    if (size !== t.size) {
      // Services are logging: have a pool worker ready, so a rotation never waits for one to start.
      if (size > t.size) this.pool.warm();
      t.size = size;
      if (t.follow) this.readFollowed(t);
    }
    const logical = t.state.base + size;
    if (logical !== t.markedOffset) {
      if (now - t.lastMarkAt >= MARK_EVERY_MS) { this.mark(t, logical); this.owed.delete(t); } else this.owed.add(t);
    } else {
      this.owed.delete(t);
    }
    if (!t.rotating && size - t.state.dataStart >= this.limits.maxSize) this.rotate(t);
  }

  /** Write a time mark: the wall time now (what readers ask by), kept apart from the boot-clock period. */
  private mark(t: StreamTrack, logical: number): void {
    try {
      t.marksFd ??= openSync(marksPath(this.dir, t.service, t.stream), 'a');
      writeSync(t.marksFd, encodeMark(Date.now(), logical));
      t.lastMarkAt = bootNow();
      t.markedOffset = logical;
    } catch (err) {
      this.writeFailed(err, `time marks of ${t.service}`);
    }
  }

  /**
   * Move the head of a live file into an archive, one max_size chunk at a time (the next chunk
   * follows at once while the file is still over). A writer so fast that its live data alone
   * exceeds the service's cap loses its oldest bytes without archiving them — they would be
   * deleted at once anyway — and that is recorded.
   */
  private rotate(t: StreamTrack): void {
    const data = t.size - t.state.dataStart;
    const flood = data > this.limits.maxTotal;
    const length = flood
      ? Math.floor((data - this.limits.maxSize) / BLOCK) * BLOCK
      : Math.floor((Math.min(data - 1, this.limits.maxSize)) / BLOCK) * BLOCK;
    if (length <= 0) return;
    t.rotating = true;
    this.mark(t, t.state.base + t.size);
    if (flood) for (const a of [...t.archives]) this.dropArchive(t, a); // older than what is dropped now
    this.pool.rotateLog({ dir: this.dir, id: t.service, stream: t.stream, state: { ...t.state }, length, discard: flood }).then((r) => {
      if (r.method === 'collapse' || r.method === 'truncate') {
        t.state.base += t.state.dataStart + r.length;
        t.state.dataStart = 0;
        if (t.follow) t.follow.offset = Math.max(0, t.follow.offset - r.length);
      } else {
        t.state.dataStart += r.length;
      }
      if (r.method === 'truncate' && !this.lossyWarned) {
        this.lossyWarned = true;
        this.log.warn({ dir: this.dir }, 'this filesystem cannot remove the head of a file in place; log rotation copies and truncates, which can drop the lines written in between');
      }
      writeState(this.dir, t.service, t.stream, t.state);
      t.size = sizeOf(t.file);
      t.archives = listArchives(this.dir, t.service, t.stream).filter((a) => !a.partial);
      this.enforceCaps(t.service);
      this.condition(`rotate:${t.service}`, null);
      if (flood) this.onDropped(t.service, t.stream, r.length);
      this.log.debug({ service: t.service, stream: t.stream, bytes: r.length, gz: r.compressedBytes, method: r.method, flood }, 'rotated log');
    }, (err: unknown) => {
      this.writeFailed(err, `rotation of ${t.service} ${t.stream}`, `rotate:${t.service}`);
    }).finally(() => {
      t.rotating = false;
      if (this.timer) this.check(t, bootNow()); // more to do if the writer is still ahead
    });
  }

  /** Oldest archives go first: beyond `keep` per stream, then while the service is over its cap. */
  private enforceCaps(service: string): void {
    const tracks = this.streams.get(service) ?? [];
    for (const t of tracks) {
      while (t.archives.length > this.limits.keep) this.dropArchive(t, t.archives[0]!);
    }
    let total = tracks.reduce((sum, t) => sum + this.streamBytes(t), 0);
    while (total > this.limits.maxTotal) {
      const oldest = tracks.flatMap((t) => t.archives.map((a) => ({ t, a, mtime: mtimeOf(a.path) }))).sort((x, y) => x.mtime - y.mtime)[0];
      if (!oldest) break;
      total -= sizeOf(oldest.a.path);
      this.dropArchive(oldest.t, oldest.a);
    }
  }

  private dropArchive(t: StreamTrack, a: Archive): void {
    try { unlinkSync(a.path); } catch { /* already gone */ }
    t.archives = t.archives.filter((x) => x !== a);
  }

  private streamBytes(t: StreamTrack): number {
    return Math.max(0, sizeOf(t.file) - t.state.dataStart) + t.archives.reduce((sum, a) => sum + sizeOf(a.path), 0);
  }

  private watchLive(t: StreamTrack): void {
    if (!t.follow || t.follow.watcher) return;
    try {
      t.follow.watcher = watch(t.file, { persistent: false }, () => this.readFollowed(t));
      t.follow.watcher.on('error', () => { if (t.follow) { t.follow.watcher?.close(); t.follow.watcher = null; } });
    } catch {
      // Not created yet: the tick reads it once it exists, and watches it then.
    }
  }

  private readFollowed(t: StreamTrack): void {
    const f = t.follow;
    if (!f) return;
    if (!f.watcher) this.watchLive(t);
    let fd: number;
    try { fd = openSync(t.file, 'r'); } catch { return; }
    try {
      const size = fstatSync(fd).size;
      if (size < f.offset) { f.offset = 0; f.partial = ''; } // replaced by hand
      if (size === f.offset) return;
      const lines: string[] = [];
      let from = Math.max(f.offset, t.state.dataStart);
      if (size - from > MAX_FOLLOW_READ) {
        lines.push(`[orchestrator: ${size - from - MAX_FOLLOW_READ} bytes skipped in the live view; they are in the log file]`);
        from = size - MAX_FOLLOW_READ;
        f.partial = '';
      }
      const buf = Buffer.allocUnsafe(size - from);
      const n = readSync(fd, buf, 0, buf.length, from);
      f.offset = from + n;
      const parts = (f.partial + buf.subarray(0, n).toString('utf8')).split('\n');
      f.partial = parts.pop() ?? '';
      lines.push(...parts);
      if (lines.length) this.onLines(t.service, t.stream, lines);
    } finally {
      closeSync(fd);
    }
  }

  private checkDisk(now: number): void {
    this.lastDiskCheck = now;
    try {
      const s = statfsSync(this.dir);
      const free = s.bavail * s.bsize;
      const low = Math.min(DISK_LOW_BYTES, 0.05 * s.blocks * s.bsize);
      this.condition('disk', free < low ? `log disk nearly full: ${(free / 1024 / 1024).toFixed(1)} MB free in ${this.dir}` : null);
      if (free >= low) this.condition('log_write', null);
    } catch (err) {
      if (!existsSync(this.dir)) {
        try { mkdirSync(this.dir, { recursive: true }); } catch { /* reported below */ }
      }
      this.condition('log_dir', `cannot check ${this.dir}: ${(err as Error).message}`);
      return;
    }
    this.condition('log_dir', null);
  }

  private writeFailed(err: unknown, what: string, key = 'log_write'): void {
    const code = (err as NodeJS.ErrnoException)?.code;
    const message = code === 'ENOSPC' ? `log disk full: ${what} could not be written` : `${what} failed: ${(err as Error)?.message ?? err}`;
    this.log.warn({ err }, message);
    this.condition(key, message);
  }

  private condition(key: string, message: string | null): void {
    if (message === null) this.conditions.delete(key); else this.conditions.add(key);
    this.onCondition(key, message);
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function readBytes(path: string, from: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, from);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
