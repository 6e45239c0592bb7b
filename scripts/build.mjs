// Builds the server, CLI and SDK into dist/ and the dashboard into public/dist/ with esbuild.
// Runs on `npm ci` (prepare), so a fresh clone is runnable without a separate build step.
import { build } from 'esbuild';
import { existsSync, mkdirSync } from 'node:fs';

const started = Date.now();
mkdirSync('dist', { recursive: true });

// Worker entry points sit flat beside main.js: src/workers/paths.ts resolves them from dist/.
const entryPoints = Object.fromEntries(Object.entries({
  cli: 'src/cli/index.ts',
  'actor-host.worker': 'src/workers/actor-host.worker.ts',
  'cpu-tasks.worker': 'src/workers/tasks/index.ts',
  sdk: 'src/sdk/index.ts',
}).filter(([, file]) => existsSync(file)));

await build({
  entryPoints,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});

if (existsSync('public/src/main.ts')) {
  await build({
    entryPoints: ['public/src/main.ts'],
    outfile: 'public/dist/app.js',
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020'],
    sourcemap: false,
    logLevel: 'warning',
  });
}
process.stderr.write(`built dist/ in ${Date.now() - started} ms\n`);
