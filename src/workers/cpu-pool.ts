/**
 * The piscina pool for CPU and bulk file work (log reading and search, rotation with gzip).
 * Stateless tasks only: piscina may end its workers at any time. Every call has a time limit;
 * aborting a task ends its worker, so even a runaway regular expression cannot hang the pool.
 */
import { Piscina } from 'piscina';
import type { ReadLogResult, ReadLogTask, RotateResult, RotateTask } from './tasks/logs.js';
import { workerUrl } from './paths.js';

export class CpuPool {
  private readonly pool: Piscina;
  /** The no-op task that brings a worker up, while one is on its way. */
  private starting: Promise<void> | null = null;

  constructor(opts: { maxThreads?: number } = {}) {
    this.pool = new Piscina({
      filename: workerUrl('cpu-tasks.worker').href,
      // No thread standing by (each costs memory); warm() starts one ahead of work that needs it.
      minThreads: 0,
      maxThreads: opts.maxThreads ?? 2,
      idleTimeout: 30_000,
    });
  }

  /**
   * The time limit starts once a worker stands: starting one (slow on a swamped machine, and
   * slower still under a TypeScript loader in tests) is not time the reading took.
   */
  async readLog(task: ReadLogTask, timeoutMs = 10_000): Promise<ReadLogResult> {
    await this.ready();
    return this.pool.run(task, { name: 'readLog', signal: AbortSignal.timeout(timeoutMs) });
  }

  rotateLog(task: RotateTask, timeoutMs = 120_000): Promise<RotateResult> {
    return this.pool.run(task, { name: 'rotateLog', signal: AbortSignal.timeout(timeoutMs) });
  }

  gzipFile(path: string, timeoutMs = 120_000): Promise<{ path: string; bytes: number }> {
    return this.pool.run({ path }, { name: 'gzipFile', signal: AbortSignal.timeout(timeoutMs) });
  }

  /**
   * Have a worker ready before it is needed: the pool keeps none standing (memory), and starting
   * one takes long enough for a fast writer to run far past max_size in the meantime.
   */
  warm(): void {
    void this.ready();
  }

  /** Resolves once a worker has answered (at once when one stands); never rejects. */
  private ready(): Promise<void> {
    if (this.starting) return this.starting;
    if (this.pool.threads.length > 0) return Promise.resolve();
    const starting = this.pool.run(null, { name: 'noop' }).then(() => undefined, () => undefined).finally(() => {
      if (this.starting === starting) this.starting = null;
    });
    return (this.starting = starting);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
