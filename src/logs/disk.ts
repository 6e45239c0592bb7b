/**
 * The log disk's condition as the log store meets it: a folder it cannot create or look at, free
 * space running low, a write (time mark, rotation) refused. Each is a condition under a key,
 * reported when it appears and cleared when it is over, and logging carries on meanwhile: the
 * services write their own files, so nothing here ever stops one. (What a full disk does to the
 * services themselves is os/log-disk.ts.)
 */
import { existsSync, mkdirSync, statfsSync } from 'node:fs';
import type { Logger } from 'pino';
import { DISK_CHECK_MS, DISK_RECHECK_MS } from './timing.js';

export type ConditionHandler = (key: string, message: string | null) => void;

/** Free space below this (or below 5 % of a small disk) is reported. */
const DISK_LOW_BYTES = 64 * 1024 * 1024;

export class DiskConditions {
  /** Keys of the conditions that stand now. */
  private readonly standing = new Set<string>();
  /** Boot-clock time (bootNow) of the last disk check. */
  private lastCheck = 0;

  constructor(private readonly dir: string, private readonly log: Logger, private readonly onCondition: ConditionHandler) {}

  /** Whether any condition stands (the store then looks again every second). */
  get holds(): boolean {
    return this.standing.size > 0;
  }

  /** Look at the disk if it is time: sooner while a condition stands. `now` is bootNow(). */
  checkIfDue(now: number): void {
    if (now - this.lastCheck >= (this.holds ? DISK_RECHECK_MS : DISK_CHECK_MS)) this.check(now);
  }

  /** Report a write that failed (a full disk says so), under `key`. */
  writeFailed(err: unknown, what: string, key = 'log_write'): void {
    const code = (err as NodeJS.ErrnoException)?.code;
    const message = code === 'ENOSPC' ? `log disk full: ${what} could not be written` : `${what} failed: ${(err as Error)?.message ?? err}`;
    this.log.warn({ err }, message);
    this.set(key, message);
  }

  /** Report a condition (null: it is over). */
  set(key: string, message: string | null): void {
    if (message === null) this.standing.delete(key); else this.standing.add(key);
    this.onCondition(key, message);
  }

  private check(now: number): void {
    this.lastCheck = now;
    try {
      const s = statfsSync(this.dir);
      const free = s.bavail * s.bsize;
      const low = Math.min(DISK_LOW_BYTES, 0.05 * s.blocks * s.bsize);
      this.set('disk', free < low ? `log disk nearly full: ${(free / 1024 / 1024).toFixed(1)} MB free in ${this.dir}` : null);
      if (free >= low) this.set('log_write', null);
    } catch (err) {
      if (!existsSync(this.dir)) {
        try { mkdirSync(this.dir, { recursive: true }); } catch { /* reported below */ }
      }
      this.set('log_dir', `cannot check ${this.dir}: ${(err as Error).message}`);
      return;
    }
    this.set('log_dir', null);
  }
}
