/**
 * The piscina pool for CPU and bulk file work (log tail, search, compression). Stateless tasks
 * only: piscina may end its workers at any time. Every call has a timeout.
 */
import { Piscina } from 'piscina';
import type { TailResult, TailTask } from './tasks/tail.js';
import { workerUrl } from './paths.js';

export class CpuPool {
  private readonly pool: Piscina;

  constructor(opts: { maxThreads?: number } = {}) {
    this.pool = new Piscina({
      filename: workerUrl('cpu-tasks.worker').href,
      minThreads: 0,
      maxThreads: opts.maxThreads ?? 2,
      idleTimeout: 30_000,
    });
  }

  tail(task: TailTask, timeoutMs = 5_000): Promise<TailResult> {
    return this.pool.run(task, { name: 'tail', signal: AbortSignal.timeout(timeoutMs) });
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
