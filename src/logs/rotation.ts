/**
 * Rotation of a service's log streams, in place and lossless. The child keeps appending to its
 * live file (O_APPEND) and never reopens anything, so a rotation does not rename the file: it
 * copies the head of the live data into a gzipped archive and then removes that head in place
 * (collapse range, or punch hole), in the piscina pool. Archives are kept to logs.keep per stream
 * and logs.max_total bytes per service, oldest dropped first. A rotation cut short by a crash is
 * finished or undone when the stream is next taken up (recover).
 */
import { closeSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import type { Stream } from '../os/logs.js';
import type { CpuPool } from '../workers/cpu-pool.js';
import type { DiskConditions } from './disk.js';
import type { Follower } from './follow.js';
import { listArchives, livePath, readState, sizeOf, writeState, type Archive, type StreamState } from './layout.js';

export interface LogLimits {
  /** Rotate a live file once it holds this many bytes. */
  maxSize: number;
  /** Archives kept per stream. */
  keep: number;
  /** Bytes on disk per service, live files and archives of both streams together. */
  maxTotal: number;
}

/** One stream as rotation sees it (the store's track of it adds time marks: store.ts). */
export interface RotatedStream {
  service: string;
  stream: Stream;
  file: string;
  state: StreamState;
  archives: Archive[];
  /** Physical size of the live file seen at the last look. */
  size: number;
  rotating: boolean;
  follow: Follower | null;
}

/** How much of the live file one rotation moves, and whether it is thrown away (a flood). */
export interface Chunk {
  length: number;
  flood: boolean;
}

export interface RotationOptions {
  /** The folder of the service logs. */
  dir: string;
  limits: LogLimits;
  pool: CpuPool;
  log: Logger;
  disk: DiskConditions;
  /** Every stream of a service, for its total cap. */
  streamsOf(service: string): RotatedStream[];
  onDropped(service: string, stream: Stream, bytes: number): void;
}

/** Rotations move whole file-system blocks, so the head can be collapsed or punched in place. */
const BLOCK = 4096;

export class Rotation {
  private lossyWarned = false;

  constructor(private readonly o: RotationOptions) {}

  /** Where a stream stands and its archives, with a rotation a crash cut short finished first. */
  recover(service: string, stream: Stream): { state: StreamState; archives: Archive[] } {
    const state = readState(this.o.dir, service, stream);
    const partial = listArchives(this.o.dir, service, stream).filter((a) => a.partial);
    for (const part of partial) this.finishInterrupted(service, stream, state, part);
    return { state, archives: listArchives(this.o.dir, service, stream).filter((a) => !a.partial) };
  }

  /**
   * What to move out of a live file that reached max_size: its head, one max_size chunk at a time
   * (the next chunk follows at once while the file is still over). A writer so fast that its live
   * data alone exceeds the service's cap loses its oldest bytes without archiving them — they would
   * be deleted at once anyway — and that is recorded. Null: nothing to rotate.
   */
  chunk(t: RotatedStream): Chunk | null {
    const data = t.size - t.state.dataStart;
    if (data < this.o.limits.maxSize) return null;
    const flood = data > this.o.limits.maxTotal;
    const length = flood
      ? Math.floor((data - this.o.limits.maxSize) / BLOCK) * BLOCK
      : Math.floor((Math.min(data - 1, this.o.limits.maxSize)) / BLOCK) * BLOCK;
    return length > 0 ? { length, flood } : null;
  }

  /**
   * Rotate one chunk in the pool and enforce the caps. A failure of the pool's work or of the
   * state file after it is reported (the rotate:<service> condition), never thrown.
   */
  async rotate(t: RotatedStream, { length, flood }: Chunk): Promise<void> {
    if (flood) for (const a of [...t.archives]) this.dropArchive(t, a); // older than what is dropped now
    let r: Awaited<ReturnType<CpuPool['rotateLog']>>;
    try {
      r = await this.o.pool.rotateLog({ dir: this.o.dir, id: t.service, stream: t.stream, state: { ...t.state }, length, discard: flood });
    } catch (err) {
      this.o.disk.writeFailed(err, `rotation of ${t.service} ${t.stream}`, `rotate:${t.service}`);
      return;
    }
    if (r.method === 'collapse' || r.method === 'truncate') {
      t.state.base += t.state.dataStart + r.length;
      t.state.dataStart = 0;
      t.follow?.shifted(r.length);
    } else {
      t.state.dataStart += r.length;
    }
    if (r.method === 'truncate' && !this.lossyWarned) {
      this.lossyWarned = true;
      this.o.log.warn({ dir: this.o.dir }, 'this filesystem cannot remove the head of a file in place; log rotation copies and truncates, which can drop the lines written in between');
    }
    // The bytes have moved; a state file that cannot be written (disk full) is reported and
    // written again by the next rotation, never thrown: a full disk must not cost the orchestrator.
    let saved = true;
    try {
      writeState(this.o.dir, t.service, t.stream, t.state);
    } catch (err) {
      saved = false;
      this.o.disk.writeFailed(err, `the rotation state of ${t.service} ${t.stream}`, `rotate:${t.service}`);
    }
    t.size = sizeOf(t.file);
    t.archives = listArchives(this.o.dir, t.service, t.stream).filter((a) => !a.partial);
    this.enforceCaps(t.service);
    if (saved) this.o.disk.set(`rotate:${t.service}`, null);
    if (flood) this.o.onDropped(t.service, t.stream, r.length);
    this.o.log.debug({ service: t.service, stream: t.stream, bytes: r.length, gz: r.compressedBytes, method: r.method, flood }, 'rotated log');
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
      const live = readBytes(livePath(this.o.dir, service, stream), state.dataStart, probe);
      if (live.equals(archived.subarray(0, probe))) { unlinkSync(part.path); return; }
      const length = part.end - part.start;
      if (live.every((b) => b === 0)) state.dataStart += length; else state.base += length;
      writeState(this.o.dir, service, stream, state);
      renameSync(part.path, final);
      this.o.log.warn({ service, stream, archive: final }, 'finished a log rotation interrupted by a crash');
    } catch (err) {
      this.o.log.error({ err, service, stream, part: part.path }, 'cannot recover an interrupted log rotation');
    }
  }

  /** Oldest archives go first: beyond `keep` per stream, then while the service is over its cap. */
  private enforceCaps(service: string): void {
    const streams = this.o.streamsOf(service);
    for (const t of streams) {
      while (t.archives.length > this.o.limits.keep) this.dropArchive(t, t.archives[0]!);
    }
    let total = streams.reduce((sum, t) => sum + streamBytes(t), 0);
    while (total > this.o.limits.maxTotal) {
      const oldest = streams.flatMap((t) => t.archives.map((a) => ({ t, a, mtime: mtimeOf(a.path) }))).sort((x, y) => x.mtime - y.mtime)[0];
      if (!oldest) break;
      total -= sizeOf(oldest.a.path);
      this.dropArchive(oldest.t, oldest.a);
    }
  }

  private dropArchive(t: RotatedStream, a: Archive): void {
    try { unlinkSync(a.path); } catch { /* already gone */ }
    t.archives = t.archives.filter((x) => x !== a);
  }
}

/** Bytes a stream holds on disk (live data and archives), as the cap counts them. */
export function streamBytes(t: RotatedStream): number {
  return Math.max(0, sizeOf(t.file) - t.state.dataStart) + t.archives.reduce((sum, a) => sum + sizeOf(a.path), 0);
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
