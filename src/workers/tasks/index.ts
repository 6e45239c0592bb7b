/**
 * Piscina tasks: stateless CPU and file work kept off the main thread (the pool may end a worker
 * at any time, so nothing here keeps state between calls).
 */
export { gzipFile, readLog, rotateLog } from './logs.js';

/** Starts a worker ahead of work that will need one soon (see CpuPool.warm). */
export function noop(): null {
  return null;
}
