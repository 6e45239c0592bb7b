// The one real-process layer for tests, scripts and benches: a free port, polling with a deadline,
// a temporary config folder, and the real `orchestrator` binary (bin/orchestrator.js, from dist/)
// as a child process. Plain JavaScript so the .mjs bench and scripts use it as well as the .ts tests
// (types in process.d.mts). In-process orchestrators live in harness.ts; CLI commands in test/cli/run.ts.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'orchestrator.js');
export const FIXTURES = join(ROOT, 'test', 'fixtures');

/** A TCP port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Poll `check` (for state that lives in another process, where no event announces it) until it
 * gives something other than undefined, null or false, and resolve with that. A check that throws
 * counts as "not yet" (a server not listening yet); its last error goes into the timeout message.
 * `opts` is `{ what, timeoutMs = 20_000, everyMs = 50 }`, or just `what`.
 */
export async function until(check, opts, timeoutMs) {
  const { what = 'a condition', timeoutMs: limit = timeoutMs ?? 20_000, everyMs = 50 } = typeof opts === 'string' ? { what: opts } : (opts ?? {});
  const deadline = Date.now() + limit;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${limit} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Quick test defaults for orchestrator.yaml: short intervals and backoff, debug logs, files in the folder. */
export const TEST_DEFAULTS = Object.freeze({
  orchestrator: { host: '127.0.0.1', port: 0, log_level: 'DEBUG', data_dir: './data', log_dir: './logs', services_dir: './services' },
  monitoring: { interval: 1, timeout: 1, enabled: true, sample_interval: 1 },
  recovery: { enabled: true, max_retries: 3, backoff_seconds: 0.1, max_backoff_seconds: 2, reset_after_seconds: 30 },
  api: { cors_origins: ['http://localhost:3000'], api_key: null, rate_limit: 0 },
  database: { path: './data/registry.db' },
});

/** `extra`'s sections merged (one level deep) over `base` (the test defaults unless given). */
export function testConfig(extra = {}, base = TEST_DEFAULTS) {
  const out = {};
  for (const [k, v] of Object.entries(base)) out[k] = typeof v === 'object' && v && !Array.isArray(v) ? { ...v } : v;
  for (const [k, v] of Object.entries(extra)) out[k] = typeof v === 'object' && v && !Array.isArray(v) ? { ...out[k], ...v } : v;
  return out;
}

/** One YAML file per service in `dir`/services (file name → spec). */
export function writeServices(dir, services) {
  mkdirSync(join(dir, 'services'), { recursive: true });
  for (const [file, spec] of Object.entries(services)) writeFileSync(join(dir, 'services', `${file}.yaml`), stringify(spec));
}

/**
 * A config folder: `dir` (a new temporary one, named after `prefix`, unless given) with
 * orchestrator.yaml = testConfig(config, base) and services/ holding `services`.
 * Returns the folder and the config file's path.
 */
export function writeFolder({ services = {}, config = {}, base = TEST_DEFAULTS, dir, prefix = 'orch-test-' } = {}) {
  const folder = dir ?? mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(folder, { recursive: true });
  const file = join(folder, 'orchestrator.yaml');
  writeFileSync(file, stringify(testConfig(config, base)));
  writeServices(folder, services);
  return { dir: folder, config: file };
}

/**
 * `node [nodeArgs] bin/orchestrator.js ARGS` as a child process with stdout and stderr collected.
 * `env` is laid over this process's environment; a key set to undefined is removed from it.
 */
export function runBin(args, env = {}, cwd = ROOT, nodeArgs = []) {
  const childEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { out += d; stdout += d; });
  child.stderr.on('data', (d) => { out += d; stderr += d; });
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, stdout: () => stdout, stderr: () => stderr, exit };
}

/** Stop an orchestrator the polite way (SIGTERM: it stops its services), and only then by force. */
export async function stopGracefully(run, timeoutMs = 20_000) {
  if (run.child.exitCode !== null || run.child.signalCode !== null) return;
  run.child.kill('SIGTERM');
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  await run.exit;
  clearTimeout(timer);
}

/**
 * Start `orchestrator serve` and resolve once GET /health answers 200 (rejects with its output if it
 * exits first or not within `timeoutMs`). Without `dir`, a new folder is written (writeFolder with
 * `services`, `config`, `base`, `prefix`) on a free port, and removed by stop(). With `dir`, its
 * orchestrator.yaml is used as it is and `port` must say where it listens.
 * stop() stops it gracefully (after `stopTimeoutMs`, by SIGKILL).
 */
export async function startOrchestrator({
  dir, port, services, config = {}, base, prefix, args = [], env = {}, nodeArgs = [], cwd, timeoutMs = 20_000, stopTimeoutMs = 20_000,
} = {}) {
  let own = false;
  if (dir === undefined) {
    port ??= config.orchestrator?.port || await freePort();
    dir = writeFolder({ services, config: { ...config, orchestrator: { ...config.orchestrator, port } }, base, prefix }).dir;
    own = true;
  }
  if (!port) throw new Error('startOrchestrator: a given dir needs its port');
  const run = runBin(['serve', '--config', join(dir, 'orchestrator.yaml'), ...args], env, cwd ?? ROOT, nodeArgs);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopGracefully(run, stopTimeoutMs);
    if (own) rmSync(dir, { recursive: true, force: true });
  };
  const ended = () => run.child.exitCode !== null || run.child.signalCode !== null;
  let up;
  try {
    up = await until(async () => (ended() ? 'exited' : (await fetch(`${url}/health`)).status === 200), { what: 'orchestrator /health', timeoutMs });
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n${run.output()}`);
  }
  if (up === 'exited') {
    await stop();
    throw new Error(`orchestrator exited (${run.child.exitCode ?? run.child.signalCode}) before answering /health:\n${run.output()}`);
  }
  return { url, port, dir, run, child: run.child, output: run.output, exit: run.exit, stop };
}
