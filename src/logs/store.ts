/**
 * The main thread's view of every service log. It never sits in the data path (children write
 * their own files) and never reads a big file: it looks at a live file's size when the file
 * system says it was written (and on a slow full scan, in case a notification was missed), and
 *   - writes a time mark (wall ms, logical offset) at most once a second when a stream grew, so any
 *     line can be placed in time within about a second (?since=);
 *   - has a stream past logs.max_size rotated (rotation.ts);
 *   - hands the new lines of a stream someone follows to the feed (follow.ts), and tells that a
 *     service wrote at all (onOutput: output silence, os/output.ts);
 *   - reports a full or unwritable disk, and carries on (disk.ts).
 * Its periods (timing.ts) run on the boot clock, so a wall-clock jump pauses none of them; only
 * the time written into a mark is wall-clock, as readers ask by wall time.
 */
import { closeSync, mkdirSync, openSync, watch, writeSync, type FSWatcher } from 'node:fs';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import { bootNow } from '../clock.js';
import { serviceLogDir, type Stream } from '../os/logs.js';
import type { CpuPool } from '../workers/cpu-pool.js';
import { DiskConditions, type ConditionHandler } from './disk.js';
import { Follower } from './follow.js';
import { encodeMark, listArchives, livePath, marksPath, readState, sizeOf, STREAMS, type StreamFiles } from './layout.js';
import { Rotation, streamBytes, type Chunk, type LogLimits, type RotatedStream } from './rotation.js';
import { CHANGE_DELAY_MS, FULL_SCAN_MS, MARK_EVERY_MS, TICK_MS } from './timing.js';

export type { LogLimits } from './rotation.js';
export type { ConditionHandler } from './disk.js';
export type LinesHandler = (service: string, stream: Stream, lines: string[]) => void;

/** One stream of a tracked service: what rotation keeps (rotation.ts) and its time marks. */
interface StreamTrack extends RotatedStream {
  /** Boot-clock time of the last mark written. */
  lastMarkAt: number;
  markedOffset: number;
  marksFd: number | null;
}

export class LogStore {
  private readonly dir: string;
  private readonly streams = new Map<string, StreamTrack[]>();
  /** The store's tick; `tickAt` (bootNow) is when it fires next. */
  private timer: NodeJS.Timeout | null = null;
  private tickAt = 0;
  private dirWatcher: FSWatcher | null = null;
  private readonly byFile = new Map<string, StreamTrack>();
  /** Streams written since they were last looked at. */
  private readonly changed = new Set<StreamTrack>();
  private changeTimer: NodeJS.Timeout | null = null;
  /** Streams that grew within the last second and still owe a time mark. */
  private readonly owed = new Set<StreamTrack>();
  /** Boot-clock time (bootNow) of the last full scan. */
  private lastFullScan = 0;
  private readonly disk: DiskConditions;
  private readonly rotation: Rotation;

  constructor(
    logDir: string,
    limits: LogLimits,
    private readonly pool: CpuPool,
    private readonly log: Logger,
    private readonly onLines: LinesHandler,
    onCondition: ConditionHandler,
    onDropped: (service: string, stream: Stream, bytes: number) => void = () => undefined,
    /** A service's stdout or stderr grew (as often as its files are looked at: os/output.ts throttles). */
    private readonly onOutput: (service: string) => void = () => undefined,
  ) {
    this.dir = serviceLogDir(logDir);
    this.disk = new DiskConditions(this.dir, log, onCondition);
    this.rotation = new Rotation({
      dir: this.dir, limits, pool, log, disk: this.disk, onDropped,
      streamsOf: (service) => this.streams.get(service) ?? [],
    });
  }

  start(): void {
    try { mkdirSync(this.dir, { recursive: true }); } catch (err) { this.disk.set('log_dir', `cannot create ${this.dir}: ${(err as Error).message}`); }
    this.watchDir();
    // Services log most right after they start: have a worker ready (it leaves after 30 s idle).
    this.pool.warm();
    this.arm(TICK_MS);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
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
    const tracks = STREAMS.map((stream): StreamTrack => {
      const { state, archives } = this.rotation.recover(service, stream);
      const file = livePath(this.dir, service, stream);
      const size = sizeOf(file);
      return {
        service, stream, file, state, archives, size,
        lastMarkAt: 0, markedOffset: state.base + size, marksFd: null, rotating: false, follow: null,
      };
    });
    this.streams.set(service, tracks);
    for (const t of tracks) this.byFile.set(basename(t.file), t);
  }

  untrack(service: string): void {
    for (const t of this.streams.get(service) ?? []) {
      t.follow?.close();
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
    for (const t of this.streams.get(service) ?? []) total += streamBytes(t);
    return total;
  }

  /** Live lines of a service go to onLines from now on (until unfollow). */
  follow(service: string): void {
    this.track(service);
    for (const t of this.streams.get(service) ?? []) {
      t.follow ??= new Follower(t.file, () => t.state.dataStart, (lines) => this.onLines(t.service, t.stream, lines));
    }
  }

  unfollow(service: string): void {
    for (const t of this.streams.get(service) ?? []) {
      t.follow?.close();
      t.follow = null;
    }
  }

  // ------------------------------------------------------------------------------------------

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

  /**
   * The tick comes every TICK_MS while there is something to come back for (a time mark owed, a
   * disk condition standing, no folder watch); on a fleet that writes nothing, only when the next
   * full scan is due, so an idle store wakes up every FULL_SCAN_MS, not every second.
   */
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
    this.disk.checkIfDue(now);
    this.arm(this.busy() ? TICK_MS : Math.max(TICK_MS, this.lastFullScan + FULL_SCAN_MS - now));
  }

  private busy(): boolean {
    return this.owed.size > 0 || this.disk.holds || !this.dirWatcher;
  }

  private arm(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.tickAt = bootNow() + delayMs;
    this.timer = setTimeout(() => this.tick(), delayMs);
    this.timer.unref();
  }

  /** Something to come back for arose between ticks: the next one within TICK_MS. */
  private keepUp(now: number): void {
    if (this.timer && this.tickAt > now + TICK_MS && this.busy()) this.arm(TICK_MS);
  }

  /** Stat one live file: follow its new lines, mark its time, rotate it when full. `now` is bootNow(). */
  private check(t: StreamTrack, now: number): void {
    const size = sizeOf(t.file);
    if (size !== t.size) {
      // Services are logging: have a pool worker ready, so a rotation never waits for one to start.
      if (size > t.size) {
        this.pool.warm();
        this.onOutput(t.service);
      }
      t.size = size;
      t.follow?.read();
    }
    const logical = t.state.base + size;
    if (logical !== t.markedOffset) {
      if (now - t.lastMarkAt >= MARK_EVERY_MS) { this.mark(t, logical); this.owed.delete(t); } else this.owed.add(t);
    } else {
      this.owed.delete(t);
    }
    const chunk = t.rotating ? null : this.rotation.chunk(t);
    if (chunk) this.rotate(t, chunk);
    this.keepUp(now);
  }

  /** Write a time mark: the wall time now (what readers ask by), kept apart from the boot-clock period. */
  private mark(t: StreamTrack, logical: number): void {
    try {
      t.marksFd ??= openSync(marksPath(this.dir, t.service, t.stream), 'a');
      writeSync(t.marksFd, encodeMark(Date.now(), logical));
      t.lastMarkAt = bootNow();
      t.markedOffset = logical;
    } catch (err) {
      this.disk.writeFailed(err, `time marks of ${t.service}`);
    }
  }

  /** One rotation at a time per stream; once it is done, the stream is looked at again (the writer may still be ahead). */
  private rotate(t: StreamTrack, chunk: Chunk): void {
    t.rotating = true;
    this.mark(t, t.state.base + t.size);
    this.rotation.rotate(t, chunk).catch((err: unknown) => {
      this.disk.writeFailed(err, `rotation of ${t.service} ${t.stream}`, `rotate:${t.service}`);
      this.keepUp(bootNow());
    }).finally(() => {
      t.rotating = false;
      if (this.timer) this.check(t, bootNow());
    });
  }
}
