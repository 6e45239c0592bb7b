// The TypeScript loader of the test runs (.taprc node-arg), in every thread: tsx (esbuild) for
// ESM and CommonJS. Through execArgv it reaches worker threads and TypeScript child processes too;
// `--import=tsx` alone registers on the main thread only on Node 20 (and 22/24 before 22.22.3 and
// 24.11.1), where a worker's own entry (the actor host's) then fails with "Unknown file extension .ts".
// Coverage: tsx's inline source maps leave sourcesContent empty, and c8 (v8-to-istanbul) then
// maps every .ts file onto nothing; the hook in ts-sources.mjs, which runs after tsx, puts the
// file's own text in.
import { register as registerCjs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';
import { register as registerHooks } from 'node:module';

register();
registerCjs();
registerHooks('./ts-sources.mjs', import.meta.url);
