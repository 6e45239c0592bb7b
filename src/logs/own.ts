/**
 * Rotation of the orchestrator's own log. We are its writer, so this one is simple and lossless:
 * flush, give the file a second name aside, put a fresh empty file in its place (an atomic rename:
 * the path never goes missing for a reader such as `tail -F` or status.sh), reopen, then compress
 * the old one in the pool and keep `keep`. Lines written before the reopen lands go to the old
 * file, which is archived whole.
 */
import { closeSync, linkSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { OrchestratorLog } from '../log.js';
import type { CpuPool } from '../workers/cpu-pool.js';
import { safeReaddir } from './layout.js';
import { OWN_LOG_CHECK_MS } from './timing.js';

export class OwnLogRotation {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly file: string,
    private readonly log: OrchestratorLog,
    private readonly limits: { maxSize: number; keep: number },
    private readonly pool: CpuPool,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), OWN_LOG_CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async check(): Promise<void> {
    if (this.busy) return;
    let size: number;
    try { size = statSync(this.file).size; } catch { return; }
    if (size < this.limits.maxSize) return;
    this.busy = true;
    try {
      this.log.flush();
      const aside = this.file.replace(/\.log$/, '') + `.${this.stamp()}.log`;
      replaceWithEmpty(this.file, aside);
      this.log.reopen();
      await this.pool.gzipFile(aside);
      this.prune();
    } catch (err) {
      this.log.logger.warn({ err }, 'could not rotate the orchestrator log');
    } finally {
      this.busy = false;
    }
  }

  /**
   * The archive's name: the wall time now, but always after the newest archive's, so names keep
   * sorting oldest first (prune relies on it) even after the wall clock was set back.
   */
  private stamp(): number {
    const newest = this.archives().map((n) => Number(/\.(\d+)\.log(\.gz)?$/.exec(n)![1])).reduce((a, b) => Math.max(a, b), 0);
    return Math.max(Date.now(), newest + 1);
  }

  /** Names of the archives (compressed or not yet), oldest first. */
  private archives(): string[] {
    const stem = basename(this.file).replace(/\.log$/, '');
    return safeReaddir(dirname(this.file)).filter((n) => n.startsWith(`${stem}.`) && /\.\d+\.log(\.gz)?$/.test(n)).sort();
  }

  private prune(): void {
    const dir = dirname(this.file);
    const old = this.archives().filter((n) => n.endsWith('.gz'));
    for (const name of old.slice(0, Math.max(0, old.length - this.limits.keep))) {
      try { unlinkSync(join(dir, name)); } catch { /* gone */ }
    }
  }
}

/** `file` gets the name `aside` as well, then an empty file takes over the name `file`. */
function replaceWithEmpty(file: string, aside: string): void {
  try {
    linkSync(file, aside);
  } catch {
    renameSync(file, aside); // no hard links here: a short moment without the file
    return;
  }
  const fresh = `${file}.new`;
  closeSync(openSync(fresh, 'w'));
  renameSync(fresh, file);
}
