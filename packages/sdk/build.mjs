// Builds @agent-orchestrator/sdk into dist/: index.js (ESM) and index.cjs (CommonJS) with esbuild,
// index.d.ts (and the same as index.d.cts for CommonJS consumers) with tsc. The root build
// (scripts/build.mjs) runs this first; `npm run build -w @agent-orchestrator/sdk` runs it alone.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');

/** Build the package; resolves when dist/ is complete. */
export async function buildSdk() {
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  const common = { entryPoints: [join(here, 'src', 'index.ts')], bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };
  await Promise.all([
    build({ ...common, format: 'esm', outfile: join(dist, 'index.js') }),
    build({ ...common, format: 'cjs', outfile: join(dist, 'index.cjs') }),
  ]);
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
  copyFileSync(join(dist, 'index.d.ts'), join(dist, 'index.d.cts'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildSdk();
