/**
 * Where a worker's entry file is. From source (tests run TypeScript directly) it is the .ts file
 * beside this one; from the esbuild bundle, every worker entry sits flat in dist/ beside main.js,
 * an entry of its own that holds this code (scripts/build.mjs), so no split chunk in dist/chunks/.
 */
export type WorkerName = 'actor-host.worker' | 'cpu-tasks.worker';

const fromSource = import.meta.url.endsWith('.ts');

export function workerUrl(name: WorkerName): URL {
  if (!fromSource) return new URL(`./${name}.js`, import.meta.url);
  return name === 'actor-host.worker' ? new URL('./actor-host.worker.ts', import.meta.url) : new URL('./tasks/index.ts', import.meta.url);
}
