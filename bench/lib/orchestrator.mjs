// Shared bench helpers: run the real orchestrator (built dist/, `orchestrator serve`) in a temporary
// folder with generated services, watch its CPU and memory from /proc, and clean everything up.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'orchestrator.js');

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

/**
 * Start `orchestrator serve` with the given services (id → spec) and config overrides.
 * Resolves once GET /health answers and every auto-started service is running.
 */
export async function startOrchestrator({ services, config = {}, waitRunning = true, timeoutMs = 120_000 }) {
  const dir = mkdtempSync(join(tmpdir(), 'orch-bench-'));
  const port = await freePort();
  mkdirSync(join(dir, 'services'));
  const cfg = {
    orchestrator: { host: '127.0.0.1', port, log_level: 'WARNING', data_dir: './data', log_dir: './logs', services_dir: './services' },
    api: { rate_limit: 0, api_key: null, cors_origins: [] },
    supervision: { intensity: 1_000_000, period_seconds: 1 },
    ...config,
  };
  writeFileSync(join(dir, 'orchestrator.yaml'), stringify(cfg));
  for (const [id, spec] of Object.entries(services)) writeFileSync(join(dir, 'services', `${id}.yaml`), stringify({ id, ...spec }));
  const child = spawn(process.execPath, [BIN, 'serve', '--config', join(dir, 'orchestrator.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  const ids = Object.keys(services);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`orchestrator exited: ${stderr}`);
    try {
      const res = await fetch(`${url}/api/services`);
      if (res.ok) {
        const { services: list } = await res.json();
        if (!waitRunning || (list.length === ids.length && list.every((s) => s.state === 'running'))) break;
      }
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error('orchestrator did not come up in time');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir, url, port, pid: child.pid, child,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const TICKS = 100;
const PAGE = 4096;

/** CPU seconds (user+system, all threads) and RSS bytes of a process, from /proc. */
export function procUsage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { cpuSeconds: (Number(f[11]) + Number(f[12])) / TICKS, rss: Number(f[21]) * PAGE };
}

/** Sample a process every `everyMs` for `durationMs`: average CPU% of one core, average and max RSS. */
export async function watchProcess(pid, durationMs, everyMs = 1000) {
  const first = procUsage(pid);
  const t0 = performance.now();
  const rss = [];
  while (performance.now() - t0 < durationMs) {
    await new Promise((r) => setTimeout(r, everyMs));
    rss.push(procUsage(pid).rss);
  }
  const last = procUsage(pid);
  const seconds = (performance.now() - t0) / 1000;
  return {
    cpuPercent: ((last.cpuSeconds - first.cpuSeconds) / seconds) * 100,
    rssAvg: rss.reduce((a, b) => a + b, 0) / rss.length,
    rssMax: Math.max(...rss),
  };
}
