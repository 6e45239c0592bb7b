/**
 * Piscina tasks: stateless CPU and file work kept off the main thread (the pool may end a worker
 * at any time, so nothing here keeps state between calls).
 */
export { gzipFile, readLog, rotateLog } from './logs.js';
