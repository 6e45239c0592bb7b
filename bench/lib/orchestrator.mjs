// Shared by the bench scenarios: run the built orchestrator (`node bin/orchestrator.js serve`) on
// a temporary folder with N cheap services, wait until they run, and take everything down again.
// Ports, polling, the config folder and the process itself come from test/helpers/process.mjs.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { freePort, ROOT, startOrchestrator as startProcess, until, writeFolder } from '../../test/helpers/process.mjs';

export { freePort, ROOT };

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
 * Start `orchestrator serve` on a temporary folder and wait until its services run.
 *   services  id → spec (explicit services), or
 *   count, executable, autoStart  that many generated services "svc-000", … (no health endpoint)
 *   config    orchestrator.yaml sections merged over bench defaults (a free port, rate limit off,
 *             supervision intensity unlimited)
 *   waitFor   'running' (default for auto-started), 'stopped', 'healthy', or null (do not wait)
 *   engine    'uws', 'node' or 'auto': sets ORCHESTRATOR_HTTP_ENGINE for it (unset: the environment's,
 *             else the config file's, i.e. auto). With 'uws' it exits at start when no native
 *             uWebSockets.js binary loads, and this rejects with its output.
 */
export async function startOrchestrator({
  services, count = 0, executable = 'sleep 3600', autoStart = true, api = {}, logLevel = 'warn', config = {}, waitFor, timeoutMs = 120_000, env: extraEnv = {}, engine,
}) {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const specs = services ?? Object.fromEntries(Array.from({ length: count }, (_, i) => [
    `svc-${String(i).padStart(3, '0')}`, { executable, auto_start: autoStart, stop: { timeout_seconds: 2 } },
  ]));
  const base = {
    orchestrator: { host: '127.0.0.1', log_level: logLevel },
    monitoring: { interval: 30, timeout: 5, sample_interval: 5 },
    api: { rate_limit: api.rate_limit ?? 0, api_key: api.api_key ?? null, cors_origins: [] },
    supervision: { intensity: 1_000_000, period_seconds: 1 },
  };
  const port = config.orchestrator?.port || await freePort();
  const { dir } = writeFolder({
    services: Object.fromEntries(Object.entries(specs).map(([id, spec]) => [id, { id, ...spec }])),
    config: { ...config, orchestrator: { ...config.orchestrator, port } }, base, prefix: 'orch-bench-',
  });
  atExit(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ORCHESTRATOR_HOST: undefined, ORCHESTRATOR_PORT: undefined, ORCHESTRATOR_API_KEY: undefined, ...extraEnv };
  if (engine) env.ORCHESTRATOR_HTTP_ENGINE = engine;
  // The flags the shipped entry points use (bin shebang, npm start, start-orchestrator.sh).
  // BENCH_NODE_ARGS adds flags for a look inside, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = ['--max-semi-space-size=2', ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  let pids = [];
  let orchestrator;
  const stop = async () => {
    await orchestrator?.stop();
    // The orchestrator stops its services on SIGTERM; anything left (it was killed) goes too.
    for (const pid of pids) {
      try { process.kill(pid, 0); process.kill(-pid, 'SIGKILL'); } catch { /* gone, as it should be */ }
    }
  };
  atExit(stop);
  orchestrator = await startProcess({ dir, port, env, nodeArgs, cwd: dir, timeoutMs: 30_000, stopTimeoutMs: 60_000 });
  const { url, child } = orchestrator;
  const headers = api.api_key ? { 'x-api-key': api.api_key } : {};
  const list = async () => (await (await fetch(`${url}/api/services`, { headers })).json()).services;
  const want = waitFor === undefined ? (Object.values(specs).every((s) => s.auto_start === false) ? 'stopped' : 'running') : waitFor;
  const ids = Object.keys(specs);
  const ok = (s) => (want === 'healthy' ? s.state === 'running' && (s.health === 'healthy' || !s.health_check.endpoint) : s.state === want);
  if (want) {
    await until(async () => {
      const l = await list();
      pids = l.map((s) => s.pid).filter(Boolean);
      return l.length === ids.length && l.every(ok);
    }, { what: `services to reach ${want}`, timeoutMs, everyMs: 200 });
  }
  // Which engine serves (GET /health names it).
  const served = (await (await fetch(`${url}/health`, { headers })).json()).engine;
  return { url, dir, child, pid: child.pid, stop, output: orchestrator.output, headers, services: list, engine: served, refreshPids: (p) => { pids = p; } };
}

/**
 * The engines to measure: BENCH_ENGINES (comma-separated, default "uws,node"). Whether uws can run
 * here shows when the orchestrator is started with it: it exits when no native binary loads.
 */
export function benchEngines() {
  const engines = (process.env.BENCH_ENGINES ?? 'uws,node').split(',').map((e) => e.trim()).filter(Boolean);
  const unknown = engines.filter((e) => e !== 'uws' && e !== 'node');
  if (unknown.length || !engines.length) throw new Error(`BENCH_ENGINES: expected uws and/or node, got "${process.env.BENCH_ENGINES}"`);
  return engines;
}

/** Start the fleet simulator (bench/lib/fleet-sim.mjs: answers /health/<id> for any id); its base URL. */
export async function startFleetSimulator() {
  const port = await freePort();
  const sim = spawn(process.execPath, [join(ROOT, 'bench', 'lib', 'fleet-sim.mjs'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  atExit(() => sim.kill('SIGTERM'));
  await new Promise((resolve) => sim.stdout.once('data', resolve));
  return `http://127.0.0.1:${port}`;
}

const TICKS = 100;
const PAGE = 4096;

/** CPU seconds (user + system, all threads) and RSS bytes of a process, from /proc. */
export function procUsage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { cpuSeconds: (Number(f[11]) + Number(f[12])) / TICKS, rss: Number(f[21]) * PAGE };
}

/** Each thread's CPU (ns, from schedstat) and context switches (voluntary + involuntary), by tid. */
function threadUsage(pid) {
  const threads = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const switches = [...status.matchAll(/ctxt_switches:\s+(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
      threads.set(tid, { ns, switches });
    } catch { /* the thread ended */ }
  }
  return threads;
}

/**
 * Watch a process for `durationMs`: average CPU % of one core (all threads; `mainPercent` the main
 * thread alone), wake-ups per second (context switches of all threads; `mainWakeups` the main
 * thread's), average and highest RSS.
 */
export async function watchProcess(pid, durationMs, everyMs = 1000) {
  const first = procUsage(pid);
  const firstThreads = threadUsage(pid);
  const t0 = performance.now();
  const rss = [];
  while (performance.now() - t0 < durationMs) {
    await new Promise((r) => setTimeout(r, everyMs));
    rss.push(procUsage(pid).rss);
  }
  const last = procUsage(pid);
  const lastThreads = threadUsage(pid);
  const seconds = (performance.now() - t0) / 1000;
  let switches = 0;
  for (const [tid, t] of lastThreads) switches += t.switches - (firstThreads.get(tid)?.switches ?? 0);
  const main = String(pid);
  return {
    cpuPercent: ((last.cpuSeconds - first.cpuSeconds) / seconds) * 100,
    mainPercent: ((lastThreads.get(main).ns - firstThreads.get(main).ns) / 1e9 / seconds) * 100,
    wakeups: switches / seconds,
    mainWakeups: (lastThreads.get(main).switches - firstThreads.get(main).switches) / seconds,
    rssAvg: rss.reduce((a, b) => a + b, 0) / rss.length,
    rssMax: Math.max(...rss),
  };
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
