/**
 * How a service's logs sit on disk. Per stream (stdout, stderr):
 *
 *   <id>.<stream>.log                       the live file the child appends to (O_APPEND)
 *   <id>.<stream>.<start>-<end>.log.gz      rotated archives; start/end are logical offsets
 *   <id>.<stream>.idx                       time marks: (wall ms, logical offset) pairs, 16 bytes each
 *   <id>.<stream>.state.json                where the live file sits in the logical stream
 *
 * The logical offset counts every byte the service ever wrote to the stream. Rotation removes the
 * head of the live file in place (collapse range) or frees it (punch hole), so the child never
 * has to reopen anything and no line is lost.
 */
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveLogName, type Stream } from '../os/logs.js';

export const STREAMS: Stream[] = ['stdout', 'stderr'];
export const MARK_BYTES = 16;

export interface StreamState {
  /** Logical offset of byte 0 of the live file. */
  base: number;
  /** First byte of real data in the live file (after a punch-hole rotation; 0 after collapse). */
  dataStart: number;
}

export interface Archive {
  path: string;
  start: number;
  end: number;
  /** Still being written (crash recovery decides its fate). */
  partial: boolean;
}

/** Everything a reader needs to walk a stream from its oldest kept byte to its newest. */
export interface StreamFiles {
  current: string;
  state: StreamState;
  archives: Archive[];
  marks: string;
}

/** The live file the child appends to: named where it is opened for the child (os/logs.ts). */
export const livePath = (dir: string, id: string, stream: Stream) => join(dir, liveLogName(id, stream));
export const marksPath = (dir: string, id: string, stream: Stream) => join(dir, `${id}.${stream}.idx`);
export const statePath = (dir: string, id: string, stream: Stream) => join(dir, `${id}.${stream}.state.json`);
export const archivePath = (dir: string, id: string, stream: Stream, start: number, end: number) => join(dir, `${id}.${stream}.${start}-${end}.log.gz`);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Archives of one stream, oldest first. */
export function listArchives(dir: string, id: string, stream: Stream, names?: string[]): Archive[] {
  const re = new RegExp(`^${escape(id)}\\.${stream}\\.(\\d+)-(\\d+)\\.log\\.gz(\\.part)?$`);
  const out: Archive[] = [];
  for (const name of names ?? safeReaddir(dir)) {
    const m = re.exec(name);
    if (m) out.push({ path: join(dir, name), start: Number(m[1]), end: Number(m[2]), partial: !!m[3] });
  }
  return out.sort((a, b) => a.start - b.start);
}

export function readState(dir: string, id: string, stream: Stream): StreamState {
  try {
    const s = JSON.parse(readFileSync(statePath(dir, id, stream), 'utf8')) as Partial<StreamState>;
    return { base: Number(s.base) || 0, dataStart: Number(s.dataStart) || 0 };
  } catch {
    return { base: 0, dataStart: 0 };
  }
}

/** Write the state atomically (a crash leaves the old or the new one, never half of each). */
export function writeState(dir: string, id: string, stream: Stream, state: StreamState): void {
  const path = statePath(dir, id, stream);
  writeFileSync(`${path}.tmp`, JSON.stringify(state));
  renameSync(`${path}.tmp`, path);
}

export function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A file's size, 0 if it is not there. */
export function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Decode a marks file: [wall ms, logical offset] pairs in the order written. */
export function decodeMarks(buf: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i + MARK_BYTES <= buf.length; i += MARK_BYTES) out.push([buf.readDoubleLE(i), buf.readDoubleLE(i + 8)]);
  return out;
}

export function encodeMark(at: number, offset: number): Buffer {
  const b = Buffer.allocUnsafe(MARK_BYTES);
  b.writeDoubleLE(at, 0);
  b.writeDoubleLE(offset, 8);
  return b;
}
