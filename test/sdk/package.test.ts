/**
 * @agent-orchestrator/sdk as a consumer gets it: its tarball (`npm pack -w`) holds only the built
 * files, it has no dependencies (so none of the server's native modules), and installed into a
 * temporary project it works from ESM and CommonJS and type-checks in both module systems under the
 * strictest options a consumer may turn on, without skipLibCheck. And, at compile time (tsc
 * --noEmit over test/), the server's wire types still fit what the SDK declares.
 * Needs `npm run build` first (`npm test` does it).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { HeartbeatAnswer as SdkAnswer, HeartbeatBody as SdkBody, RegisteredService } from '@agent-orchestrator/sdk';
import type { HeartbeatAnswer, HeartbeatBody, ServiceDetail } from '../../src/api/types.js';
import { ROOT } from '../helpers/process.mjs';

// Compile-time: what GET /api/services/{id} answers is a RegisteredService; the heartbeat shapes are the same both ways.
type Assert<T extends true> = T;
export type Checks = [
  Assert<ServiceDetail extends RegisteredService ? true : false>,
  Assert<HeartbeatBody extends SdkBody ? (SdkBody extends HeartbeatBody ? true : false) : false>,
  Assert<HeartbeatAnswer extends SdkAnswer ? (SdkAnswer extends HeartbeatAnswer ? true : false) : false>,
];

// npm's settings from `npm test` and tap's NODE_OPTIONS stay out of the child npm commands.
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env)
  .filter(([k]) => (!/^(npm_|tap|_tapjs_|node_options$)/i.test(k)) || /^npm_config_cache$/i.test(k)));
const work = mkdtempSync(join(tmpdir(), 'orch-sdk-pkg-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

t.test('the package: built files only, no dependencies', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', 'sdk', 'package.json'), 'utf8')) as Record<string, unknown>;
  t.equal(pkg.name, '@agent-orchestrator/sdk');
  for (const k of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies']) t.notOk(pkg[k], `no ${k}`);
  const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work, '-w', '@agent-orchestrator/sdk'], { cwd: ROOT, encoding: 'utf8', env });
  t.equal(r.status, 0, `npm pack -w @agent-orchestrator/sdk\n${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  t.same(info!.files.map((f) => f.path).sort(), ['README.md', 'dist/index.cjs', 'dist/index.d.cts', 'dist/index.d.ts', 'dist/index.js', 'package.json']);
  writeFileSync(join(work, 'tarball'), info!.filename);
});

t.test('installed into a project: ESM, CommonJS, and their types under strict options', async (t) => {
  const app = join(work, 'app');
  const tarball = join(work, readFileSync(join(work, 'tarball'), 'utf8'));
  const install = spawnSync('npm', ['install', '--prefix', app, '--offline', '--no-audit', '--no-fund', tarball], { cwd: work, encoding: 'utf8', env });
  t.equal(install.status, 0, `npm install of the tarball\n${install.stderr}`);
  t.match(install.stdout + install.stderr, /added 1 package/, 'one package, nothing else');

  writeFileSync(join(app, 'esm.mjs'), `import { ServiceAgent, OrchestratorError } from '@agent-orchestrator/sdk';
const a = new ServiceAgent('e', 'http://127.0.0.1:9/', { name: 'E' });
process.stdout.write(JSON.stringify([a.definition(), new OrchestratorError('m', 0, 'unreachable') instanceof Error]));\n`);
  writeFileSync(join(app, 'cjs.cjs'), `const { ServiceAgent } = require('@agent-orchestrator/sdk');
new ServiceAgent('c', 'http://127.0.0.1:1').register().catch((e) => process.stdout.write(JSON.stringify([e.name, e.status, e.code])));\n`);
  const esm = spawnSync(process.execPath, ['esm.mjs'], { cwd: app, encoding: 'utf8' });
  t.same(JSON.parse(esm.stdout || 'null'), [{ id: 'e', external: true, name: 'E' }, true], `import\n${esm.stderr}`);
  const cjs = spawnSync(process.execPath, ['cjs.cjs'], { cwd: app, encoding: 'utf8' });
  t.same(JSON.parse(cjs.stdout || 'null'), ['OrchestratorError', 0, 'unreachable'], `require: a real request, refused\n${cjs.stderr}`);

  const source = `const agent = new ServiceAgent('t', 'http://localhost:8000', { apiEndpoint: 'http://localhost:8001' });
export async function main(): Promise<string> {
  const s: RegisteredService = await agent.register({ retryForMs: 10 });
  const answer: HeartbeatAnswer = await agent.heartbeat({ progress: 1 });
  return \`\${s.state} \${s.health} \${String(answer.drain)}\`;
}\n`;
  writeFileSync(join(app, 'consumer.mts'), `import { ServiceAgent, type RegisteredService, type HeartbeatAnswer } from '@agent-orchestrator/sdk';\n${source}`);
  writeFileSync(join(app, 'consumer.cts'), `import { ServiceAgent, type RegisteredService, type HeartbeatAnswer } from '@agent-orchestrator/sdk';\n${source}`);
  // A typo'd import must fail: the check can fail.
  writeFileSync(join(app, 'wrong.mts'), `import { ServiceAgnet } from '@agent-orchestrator/sdk';\nexport const x = ServiceAgnet;\n`);
  const tsc = (files: string[]) => spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--exactOptionalPropertyTypes',
    '--noUncheckedIndexedAccess', '--noPropertyAccessFromIndexSignature', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
    '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node', ...files], { cwd: app, encoding: 'utf8' });
  const ok = tsc(['consumer.mts', 'consumer.cts']);
  t.equal(ok.status, 0, `ESM and CommonJS consumers type-check\n${ok.stdout}`);
  const wrong = tsc(['wrong.mts']);
  t.not(wrong.status, 0, 'a name the package does not export is an error');
  t.match(wrong.stdout, /ServiceAgnet/);
});
