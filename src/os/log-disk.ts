/**
 * The log disk as services meet it. Children write their own log files (so no line is lost when the
 * orchestrator restarts), which means a full disk under orchestrator.log_dir fails *their* writes:
 * a service that does not expect ENOSPC on stdout (most: Node's console.log, Python's print) exits
 * with code 1. That exit is the environment's doing, not the service's.
 *
 * This guard sits on the kernel's facts on their way to the actors: an exit with a non-zero code
 * while the disk is full is marked `cause: log_disk_full` (the actor then waits for space instead
 * of spending max_retries), and once the disk has space again every such service is told
 * (`log_disk_ok`), within one poll period.
 */
import { statfsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Fact } from '../actors/protocol.js';
import { LOG_DISK_POLL_MS } from './timing.js';

/** Free space below which the disk counts as full: 1 MB, or 2 % of a smaller file system. */
const FULL_BELOW_BYTES = 1024 * 1024;
const FULL_BELOW_SHARE = 0.02;
/** Space counts as back at twice that (so one freed block does not restart everything). */
const BACK_FACTOR = 2;

export class LogDiskGuard {
  private readonly waiting = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly dir: string, private readonly deliver: (fact: Fact) => void, private readonly log: Logger) {}

  /** Pass a fact on to the actors, marking an exit that happened with the log disk full. */
  relay(fact: Fact): void {
    const msg = fact.msg;
    if (msg.type === 'exited' && msg.signal === null && msg.code !== 0 && this.lowOnSpace(1)) {
      this.log.warn({ service: fact.id, code: msg.code, dir: this.dir }, 'a service exited while the log disk is full: it restarts when there is space');
      this.waiting.add(fact.id);
      this.watch();
      this.deliver({ id: fact.id, msg: { ...msg, cause: 'log_disk_full' } });
      return;
    }
    this.deliver(fact);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Whether the free space is under the "full" mark times `factor` (1: full now; BACK_FACTOR: not
   * yet back). A disk that cannot be looked at counts as not full: nothing is held for it.
   */
  private lowOnSpace(factor: number): boolean {
    try {
      const s = statfsSync(this.dir);
      const size = s.blocks * s.bsize;
      const mark = Math.min(FULL_BELOW_BYTES, FULL_BELOW_SHARE * size) * factor;
      return s.bavail * s.bsize < mark;
    } catch {
      return false;
    }
  }

  private watch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.lowOnSpace(BACK_FACTOR)) return;
      const ids = [...this.waiting];
      this.waiting.clear();
      this.close();
      this.log.info({ services: ids }, 'the log disk has space again: restarting the services that waited for it');
      for (const id of ids) this.deliver({ id, msg: { type: 'log_disk_ok' } });
    }, LOG_DISK_POLL_MS);
    this.timer.unref();
  }
}
