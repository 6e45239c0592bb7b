/**
 * History retention: events and resource buckets older than history.keep_days are deleted in the
 * background, in small batches between other work, and the space goes back to the file system.
 */
import type { Logger } from 'pino';
import type { Registry } from './index.js';

const EVERY_MS = 10 * 60_000;
const FIRST_AFTER_MS = 60_000;
const BATCH = 5000;

export class Retention {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly registry: Registry, private readonly keepDays: number, private readonly log: Logger) {}

  start(): void {
    const first = setTimeout(() => void this.run(), FIRST_AFTER_MS);
    first.unref();
    this.timer = setInterval(() => void this.run(), EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass: returns the number of rows removed. */
  async run(now = Date.now()): Promise<{ events: number; samples: number }> {
    if (this.running) return { events: 0, samples: 0 };
    this.running = true;
    const before = now - this.keepDays * 86_400_000;
    const removed = { events: 0, samples: 0 };
    try {
      for (;;) {
        const n = this.registry.events.pruneOlder(before, BATCH);
        removed.events += n;
        if (n < BATCH) break;
        await new Promise((r) => setImmediate(r));
      }
      for (;;) {
        const n = this.registry.samples.pruneOlder(before, BATCH);
        removed.samples += n;
        if (n < BATCH) break;
        await new Promise((r) => setImmediate(r));
      }
      if (removed.events || removed.samples) {
        this.registry.reclaim();
        this.log.info({ ...removed, keepDays: this.keepDays }, 'pruned history');
      }
    } catch (err) {
      this.log.warn({ err }, 'history pruning failed');
    } finally {
      this.running = false;
    }
    return removed;
  }
}
