// Builds the TypeScript SDK package (packages/sdk/dist/), the server and CLI into dist/ and the
// dashboard into public/dist/ with esbuild. Runs on `npm ci` and `npm pack` (prepare), so a fresh
// clone is runnable without a separate build step. dist/sdk.* are copies of the SDK package's
// build: `@agent-orchestrator/orchestrator/sdk` keeps working for those who import it from there.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { buildSdk } from '../packages/sdk/build.mjs';

const started = Date.now();
mkdirSync('dist', { recursive: true });
await buildSdk();
for (const ext of ['js', 'cjs', 'd.ts', 'd.cts']) copyFileSync(`packages/sdk/dist/index.${ext}`, `dist/sdk.${ext}`);

// Entry points sit flat in dist/: the worker entries (src/workers/paths.ts resolves them beside
// itself) and main.js, the server, which the CLI imports only for `serve` — an entry of its own, so
// that its code, with every path it resolves from import.meta.url, stays in dist/, not in chunks/.
const entryPoints = Object.fromEntries(Object.entries({
  cli: 'src/cli/index.ts',
  main: 'src/main.ts',
  'actor-host.worker': 'src/workers/actor-host.worker.ts',
  'cpu-tasks.worker': 'src/workers/tasks/index.ts',
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
  // Code splitting keeps rarely used parts (the YAML parser, ~30 KB gzipped) out of app.js: they
  // load on first use from public/dist/chunks/. Chunks of earlier builds are removed afterwards.
  const dashboard = await build({
    entryPoints: { app: 'public/src/main.ts' },
    outdir: 'public/dist',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020'],
    sourcemap: false,
    metafile: true,
    logLevel: 'warning',
  });
  const fresh = new Set(Object.keys(dashboard.metafile.outputs));
  for (const name of existsSync('public/dist/chunks') ? readdirSync('public/dist/chunks') : []) {
    if (!fresh.has(`public/dist/chunks/${name}`)) rmSync(`public/dist/chunks/${name}`, { force: true });
  }
}
process.stderr.write(`built packages/sdk/dist/ and dist/ in ${Date.now() - started} ms\n`);
