/**
 * Where a worker's entry file is. From source (tests run TypeScript directly) it is the .ts file
 * beside this one; from the esbuild bundle, every worker entry sits flat in dist/ beside main.js,
 * and this code is in dist/main.js or, should another entry come to share it, in dist/chunks/.
 */
export type WorkerName = 'actor-host.worker' | 'cpu-tasks.worker';

const fromSource = import.meta.url.endsWith('.ts');
const dist = new URL(/\/chunks\/[^/]*$/.test(import.meta.url) ? '../' : './', import.meta.url);

export function workerUrl(name: WorkerName): URL {
  if (!fromSource) return new URL(`${name}.js`, dist);
  return name === 'actor-host.worker' ? new URL('./actor-host.worker.ts', import.meta.url) : new URL('./tasks/index.ts', import.meta.url);
}
