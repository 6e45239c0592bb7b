// Shared by the bench scenarios: run the built orchestrator (`node bin/orchestrator.js serve`) on
// a temporary folder with N cheap services, wait until they run, and take everything down again.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'orchestrator.js');

const cleanups = [];
let exiting = false;
/** Run fn at exit, also on Ctrl-C or an error, so no process outlives the bench. */
export function atExit(fn) {
  cleanups.push(fn);
}
async function runCleanups() {
  while (cleanups.length) {
    try { await cleanups.pop()(); } catch (e) { process.stderr.write(`cleanup: ${e.message}\n`); }
  }
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (exiting) return;
    exiting = true;
    runCleanups().finally(() => process.exit(130));
  });
}
export async function finish(code = 0) {
  await runCleanups();
  process.exit(code);
}
export function fail(err) {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  return finish(1);
}

/**
 * Start `orchestrator serve` with `count` services (each `executable`, no health endpoint) and the
 * given api settings; resolves once every service runs.
 */
export async function startOrchestrator({ count, executable = 'sleep 3600', autoStart = true, api = {}, logLevel = 'warn' }) {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const dir = mkdtempSync(join(tmpdir(), 'orch-bench-'));
  atExit(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'services'));
  for (let i = 0; i < count; i++) {
    const id = `svc-${String(i).padStart(3, '0')}`;
    writeFileSync(join(dir, 'services', `${id}.yaml`), `id: ${id}\nexecutable: ${executable}\nauto_start: ${autoStart}\nstop: { timeout_seconds: 2 }\n`);
  }
  writeFileSync(join(dir, 'orchestrator.yaml'), [
    'orchestrator: { host: 127.0.0.1, port: 0, log_level: ' + logLevel + ' }',
    'monitoring: { interval: 30, timeout: 5, sample_interval: 5 }',
    `api: { rate_limit: ${api.rate_limit ?? 0}, api_key: ${api.api_key ? JSON.stringify(api.api_key) : 'null'}, cors_origins: [] }`,
    'supervision: { intensity: 1000000, period_seconds: 1 }',
    '',
  ].join('\n'));
  const env = { ...process.env };
  for (const k of ['ORCHESTRATOR_HOST', 'ORCHESTRATOR_PORT', 'ORCHESTRATOR_API_KEY']) delete env[k];
  const child = spawn(process.execPath, [BIN, 'serve', '--config', join(dir, 'orchestrator.yaml')], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { out += c; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let pids = [];
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    }
    // The orchestrator stops its services on SIGTERM; anything left (it was killed) goes too.
    for (const pid of pids) {
      try { process.kill(pid, 0); process.kill(-pid, 'SIGKILL'); } catch { /* gone, as it should be */ }
    }
  };
  atExit(stop);
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`orchestrator did not start:\n${out}`)), 30_000);
    const check = () => {
      const m = /orchestrator listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`orchestrator exited with ${code}:\n${out}`)); });
  });
  const headers = api.api_key ? { 'x-api-key': api.api_key } : {};
  const deadline = Date.now() + 60_000;
  for (;;) {
    const list = await (await fetch(`${url}/api/services`, { headers })).json();
    pids = list.services.map((s) => s.pid).filter(Boolean);
    const wanted = autoStart ? 'running' : 'stopped';
    if (list.services.length === count && list.services.every((s) => s.state === wanted)) break;
    if (Date.now() > deadline) throw new Error(`services did not reach ${wanted}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, dir, child, stop, headers, refreshPids: (list) => { pids = list; } };
}

/** Where the figures were taken. */
const loadAtStart = loadavg()[0];

/** The machine, and how busy it was before the bench began (the 2 cores may be shared). */
export function machine() {
  return `${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, 1-min load average before the run ${loadAtStart.toFixed(1)}`;
}

/** Print rows as an aligned Markdown table. */
export function printTable(columns, rows) {
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (vals) => `| ${vals.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(`${line(columns)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${cells.map(line).join('\n')}\n`);
}
