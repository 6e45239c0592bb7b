// Heartbeat load (issue 15): N supervised processes (cheap `sleep`), each with `heartbeat:
// {timeout_seconds: 10}`, heartbeating every second with its own run token, read from the child's
// /proc/<pid>/environ (ORCHESTRATOR_TOKEN) — the token path a real agent takes. The heartbeats are
// sent from this process over keep-alive connections, spread evenly over each second. Per fleet
// size, first an idle window (no heartbeats) and then a heartbeating one: the orchestrator's CPU %
// (of one core, all threads) and RSS, heartbeats/s answered, answer latency p50/p99, and the
// heartbeat_timeout events seen (0 expected).
//   node bench/heartbeat-load.mjs [sizes=100,1000]     BENCH_WINDOW=30 (seconds)
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { fail, finish, machine, printTable, startOrchestrator, watchProcess } from './lib/orchestrator.mjs';
import { summarize } from './lib/stats.mjs';

const SIZES = (process.argv[2] ?? '100,1000').split(',').map(Number);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 30);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const CONNECTIONS = 16;

function tokenOf(pid) {
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const line = env.find((l) => l.startsWith('ORCHESTRATOR_TOKEN='));
  if (!line) throw new Error(`pid ${pid} has no ORCHESTRATOR_TOKEN`);
  return line.slice('ORCHESTRATOR_TOKEN='.length);
}

/** Heartbeat every service once a second, evenly spread; resolves with the latencies when stopped. */
function heartbeats(url, targets) {
  const pool = new Pool(url, { connections: CONNECTIONS, pipelining: 1 });
  const latencies = [];
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let running = true;
  let progress = 0;
  const beat = async ({ id, token }) => {
    const t0 = performance.now();
    sent++;
    try {
      const res = await pool.request({
        path: `/api/services/${id}/heartbeat`, method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ progress: ++progress, inflight: 1, status: 'working' }),
      });
      const body = await res.body.json();
      if (res.statusCode === 200 && typeof body.drain === 'boolean') ok++; else failed++;
    } catch {
      failed++;
    }
    latencies.push(performance.now() - t0);
  };
  const spacing = 1000 / targets.length;
  let next = performance.now();
  let i = 0;
  const loop = (async () => {
    while (running) {
      const now = performance.now();
      while (next <= now) {
        void beat(targets[i++ % targets.length]);
        next += spacing;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    reset() { latencies.length = 0; sent = ok = failed = 0; },
    async stop() {
      running = false;
      await loop;
      await new Promise((r) => setTimeout(r, 500));
      await pool.close();
      return { latencies, sent, ok, failed };
    },
  };
}

async function run(n) {
  const services = {};
  for (let i = 0; i < n; i++) {
    services[`svc-${String(i).padStart(4, '0')}`] = { executable: 'sleep 3600', heartbeat: { timeout_seconds: 10 }, stop: { timeout_seconds: 2 } };
  }
  const o = await startOrchestrator({ services, config: { monitoring: { sample_interval: 5 } }, waitFor: 'running', timeoutMs: 300_000 });
  const targets = (await o.services()).map((s) => ({ id: s.id, token: tokenOf(s.pid) }));
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  const idle = await watchProcess(o.pid, WINDOW * 1000);
  const load = heartbeats(o.url, targets);
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  load.reset();
  const busy = await watchProcess(o.pid, WINDOW * 1000);
  const result = await load.stop();
  const timeouts = (await o.services()).filter((s) => s.health === 'stalled' || s.last_exit?.reason === 'heartbeat_timeout').length;
  await o.stop();
  const lat = summarize(result.latencies);
  return {
    services: n,
    'idle CPU %': idle.cpuPercent.toFixed(1),
    'heartbeating CPU %': busy.cpuPercent.toFixed(1),
    'cost CPU %': (busy.cpuPercent - idle.cpuPercent).toFixed(1),
    'RSS avg MB': (busy.rssAvg / 1048576).toFixed(0),
    'heartbeats/s': (result.ok / WINDOW).toFixed(0),
    failed: result.failed,
    'p50 ms': lat.p50.toFixed(2),
    'p99 ms': lat.p99.toFixed(2),
    'timed out': timeouts,
  };
}

try {
  const rows = [];
  for (const n of SIZES) rows.push(await run(n));
  process.stdout.write(`\n### Heartbeat load (${WINDOW} s windows, one heartbeat per service per second, run tokens) — ${machine()}\n\n`);
  printTable(Object.keys(rows[0]), rows);
  await finish(0);
} catch (err) {
  await fail(err);
}
