/**
 * The published package as a new user gets it, outside this checkout: `npm pack` of the built tree
 * (what `npm publish` would upload), then
 *   1. `npm install -g --prefix DIR ./x.tgz --allow-scripts=better-sqlite3` (as the README says; npm
 *      12 runs no other install script; dependencies from the registry or the warm npm cache),
 *      `DIR/bin/orchestrator serve` answering /health and the dashboard (/ and its script), stopped
 *      by SIGTERM; `@agent-orchestrator/orchestrator/sdk` imported, required and type-checked from
 *      there;
 *   2. `npm exec --package ./x.tgz -- orchestrator serve` (npx from the tarball) the same way.
 * Both are real installs. better-sqlite3 builds from source on the first (no network for its
 * prebuilt binaries here, ~1.5 min on 2 cores); the second is given that build as a local prebuild
 * (prebuild-install's npm_config_<package>_local_prebuilds, its own install script still runs), so
 * the compile happens once. Needs `npm run build` first (`npm test` does it). CI runs this file
 * once, on Node 20 (.ci/run sets ORCHESTRATOR_SKIP_PACK_TEST for the Node 24 stage).
 */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import t, { type Test } from 'tap';
import { freePort, ROOT, until, writeFolder } from '../helpers/process.mjs';

const NAME = '@agent-orchestrator/orchestrator';

t.setTimeout(900_000);

// The npm that runs this file (npm test) leaves npm_* settings in the environment that would steer
// the child npm commands (prefix, workspaces, scripts); only the cache location is kept. tap's
// NODE_OPTIONS and settings stay out too: what runs from the tarball is not this test's code.
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env)
  .filter(([k]) => (!/^(npm_|tap|_tapjs_|node_options$)/i.test(k)) || /^npm_config_cache$/i.test(k)));

function npm(args: string[], opts: SpawnSyncOptions = {}): { code: number | null; out: string; ms: number } {
  const started = Date.now();
  const r = spawnSync('npm', args, { encoding: 'utf8', env, timeout: 600_000, maxBuffer: 64 << 20, ...opts });
  return { code: r.status, out: `${String(r.stdout)}${String(r.stderr)}`, ms: Date.now() - started };
}

/** Start `command args… serve --config` on a fresh folder; check /health and the dashboard; SIGTERM; wait for the exit. */
async function serveAndCheck(t: Test, command: string, args: string[], cwd: string) {
  const port = await freePort() as number;
  const { config } = writeFolder({ config: { orchestrator: { port } }, prefix: 'orch-pack-serve-' });
  // Its own process group, stopped as a terminal's Ctrl-C or a service manager stops it: the
  // signal to the whole group. (npm exec runs the bin through `sh -c`, and a SIGTERM to npm's pid
  // alone ends npm and that shell but leaves the orchestrator running: README, Install.)
  const child = spawn(command, [...args, 'serve', '--config', config], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
  t.teardown(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } });
  const url = `http://127.0.0.1:${port}`;
  const health = await until(async () => {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${out}`);
    const r = await fetch(`${url}/health`);
    return r.status === 200 ? r.json() as Promise<{ status: string; version: string }> : undefined;
  }, { what: `/health of ${command}`, timeoutMs: 60_000 });
  t.equal(health.status, 'ok', '/health answers ok');
  t.equal(health.version, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version, 'the packed version');
  const page = await fetch(`${url}/`);
  const html = await page.text();
  t.equal(page.status, 200, 'the dashboard page');
  const script = /<script[^>]+src="([^"]+)"/.exec(html)?.[1];
  t.ok(script, `the page loads a script: ${script}`);
  const js = await fetch(new URL(script!, `${url}/`));
  t.equal(js.status, 200, `${script} is served (public/dist is in the package)`);
  t.match(js.headers.get('content-type') ?? '', /javascript/);
  const services = await fetch(`${url}/api/services`);
  t.equal(services.status, 200, 'the API answers');
  process.kill(-child.pid!, 'SIGTERM');
  // The orchestrator exits 0 on SIGTERM; npm, signalled too, ends by that signal.
  t.equal(await exited, command === 'npm' ? 'SIGTERM' : 'code 0', `SIGTERM: a clean exit\n${out.slice(-1500)}`);
  // npm does not wait for its child: the orchestrator may still be stopping when npm has gone.
  const gone = () => { try { process.kill(-child.pid!, 0); return false; } catch { return true; } };
  await until(gone, { what: 'every process of the group gone', timeoutMs: 20_000 });
  t.pass('the orchestrator is gone too, nothing left behind');
  t.match(readFileSync(join(config, '..', 'logs', 'orchestrator.log'), 'utf8'), /"signal":"SIGTERM".*"msg":"shutting down"[^]*"msg":"orchestrator stopped"/, 'it shut down on the signal');
  t.match(out, /orchestrator listening on/, 'its start-up line');
  await t.rejects(fetch(`${url}/health`), 'its port is closed');
  rmSync(join(config, '..'), { recursive: true, force: true });
}

if (process.env.ORCHESTRATOR_SKIP_PACK_TEST) t.plan(0, 'ORCHESTRATOR_SKIP_PACK_TEST: the pack-install-run test runs in another CI stage');
else main();

function main() {
  const work = mkdtempSync(join(tmpdir(), 'orch-pack-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  t.ok(existsSync(join(ROOT, 'dist', 'cli.js')), 'the tree is built (npm run build)');
  const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
  t.equal(packed.code, 0, `npm pack\n${packed.out.slice(-2000)}`);
  const [info] = JSON.parse(packed.out.slice(packed.out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const tarball = join(work, info!.filename);
  const files = info!.files.map((f) => f.path);

  t.test('the tarball: the built product and nothing of the source tree', async (t) => {
    for (const f of ['bin/orchestrator.js', 'dist/cli.js', 'dist/actor-host.worker.js', 'dist/cpu-tasks.worker.js', 'dist/sdk.js', 'dist/sdk.cjs', 'dist/sdk.d.ts', 'dist/sdk.d.cts', 'public/index.html', 'public/dist/app.js', 'package.json', 'README.md']) {
      t.ok(files.includes(f), `has ${f}`);
    }
    t.same(files.filter((f) => /^(src|test|packages|scripts|bench|node_modules|config|services|data|logs)\/|\.map$|\.ts$/.test(f) && !f.endsWith('.d.ts')), [], 'no sources, tests, source maps, sample config or runtime files');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string>; exports: Record<string, unknown> };
    t.equal(pkg.name, NAME);
    t.same(Object.keys(pkg.bin), ['orchestrator'], 'one bin, so `npx <name>` knows what to run');
    // Every file an export condition or the bin names is in the tarball.
    const targets: string[] = [];
    const walk = (v: unknown) => { if (typeof v === 'string') targets.push(v.replace(/^\.\//, '')); else if (v && typeof v === 'object') Object.values(v).forEach(walk); };
    walk(pkg.exports);
    walk(pkg.bin);
    t.same(targets.filter((f) => !files.includes(f)), [], `exports and bin point at packed files: ${targets.join(', ')}`);
  });

  let sqliteBuild = '';

  t.test('npm install -g of the tarball: orchestrator serve with the dashboard, the /sdk export', async (t) => {
    const prefix = join(work, 'global');
    const install = npm(['install', '-g', '--prefix', prefix, '--allow-scripts=better-sqlite3', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: work });
    t.equal(install.code, 0, `npm install -g ./${info!.filename}\n${install.out.slice(-3000)}`);
    t.comment(`npm install -g from the tarball took ${(install.ms / 1000).toFixed(1)} s`);
    const bin = join(prefix, 'bin', 'orchestrator');
    t.ok(existsSync(bin), 'DIR/bin/orchestrator');
    const pkgDir = join(prefix, 'lib', 'node_modules', ...NAME.split('/'));
    sqliteBuild = join(pkgDir, 'node_modules', 'better-sqlite3');

    const version = spawnSync(bin, ['--version'], { encoding: 'utf8', env, cwd: work });
    t.equal(version.stdout.trim(), '0.1.0', 'orchestrator --version');
    await serveAndCheck(t, bin, [], work);

    // The /sdk export from an ESM and a CommonJS file beside the installed package, and its types
    // under the strictest options a consumer may use (no skipLibCheck).
    const lib = join(prefix, 'lib');
    writeFileSync(join(lib, 'esm.mjs'), `import { ServiceAgent } from '${NAME}/sdk';\nprocess.stdout.write(JSON.stringify(new ServiceAgent('a', 'http://x:1/').definition()));\n`);
    writeFileSync(join(lib, 'cjs.cjs'), `const { ServiceAgent, OrchestratorError } = require('${NAME}/sdk');\nprocess.stdout.write(String(new OrchestratorError('m', 409, 'c').status) + ' ' + new ServiceAgent('b').orchestratorUrl);\n`);
    const esm = spawnSync(process.execPath, [join(lib, 'esm.mjs')], { encoding: 'utf8' });
    t.same(JSON.parse(esm.stdout || 'null'), { id: 'a', external: true }, `import from ${NAME}/sdk\n${esm.stderr}`);
    const cjs = spawnSync(process.execPath, [join(lib, 'cjs.cjs')], { encoding: 'utf8' });
    t.equal(cjs.stdout, '409 http://localhost:8000', `require('${NAME}/sdk')\n${cjs.stderr}`);
    writeFileSync(join(lib, 'consumer.mts'), `import { ServiceAgent, type RegisteredService } from '${NAME}/sdk';\nconst a = new ServiceAgent('c');\nexport const s: Promise<RegisteredService> = a.register({ retryForMs: 1 });\n`);
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--exactOptionalPropertyTypes', '--noUncheckedIndexedAccess',
      '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node', join(lib, 'consumer.mts')], { encoding: 'utf8', cwd: lib });
    t.equal(tsc.status, 0, `the /sdk types compile in a consumer (strict, exactOptionalPropertyTypes, no skipLibCheck)\n${tsc.stdout}${tsc.stderr}`);
  });

  t.test('npx from the tarball: npm exec --package ./x.tgz -- orchestrator serve', async (t) => {
    // better-sqlite3, already compiled by the install above, offered as a local prebuild.
    const sqlite = JSON.parse(readFileSync(join(sqliteBuild, 'package.json'), 'utf8')) as { version: string };
    const prebuilds = join(work, 'prebuilds');
    mkdirSync(prebuilds);
    const archive = `better-sqlite3-v${sqlite.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
    t.equal(spawnSync('tar', ['-czf', join(prebuilds, archive), '-C', sqliteBuild, 'build/Release/better_sqlite3.node']).status, 0, 'the local prebuild');
    const cache = npm(['config', 'get', 'cache'], { cwd: work }).out.trim();
    const npxDir = join(cache, '_npx');
    const before = new Set(existsSync(npxDir) ? readdirSync(npxDir) : []);
    // npx keeps what it installed under the npm cache; remove this run's folder (the one naming this tarball).
    t.teardown(() => {
      for (const d of existsSync(npxDir) ? readdirSync(npxDir) : []) {
        const manifest = join(npxDir, d, 'package.json');
        if (!before.has(d) && existsSync(manifest) && readFileSync(manifest, 'utf8').includes(basename(work))) rmSync(join(npxDir, d), { recursive: true, force: true });
      }
    });
    const started = Date.now();
    const version = npm(['exec', '--yes', '--allow-scripts=better-sqlite3', '--prefer-offline', '--no-audit', '--no-fund', '--package', tarball, '--', 'orchestrator', '--version'], {
      cwd: work, env: { ...env, npm_config_better_sqlite3_local_prebuilds: prebuilds },
    });
    t.equal(version.code, 0, `npm exec installs and runs the bin\n${version.out.slice(-3000)}`);
    t.match(version.out, /^0\.1\.0$/m, 'orchestrator --version through npx');
    t.comment(`npx install from the tarball took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await serveAndCheck(t, 'npm', ['exec', '--yes', '--offline', '--package', tarball, '--', 'orchestrator'], work);
  });
}
