// Heartbeat load: N supervised processes (cheap `sleep`, each with `heartbeat` configured) and one
// generator process (bench/lib/heartbeater.mjs) sending each service's heartbeat once a second with
// the service's own run token, as the SDK's background helper does. Per fleet size: the
// orchestrator's CPU % (of one core) and RSS over a window without heartbeats, then over one with
// them, heartbeats/s answered 200, and their latency as the generator saw it.
//   node bench/heartbeat-load.mjs [sizes=1000]     BENCH_WINDOW=30 (seconds)
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { atExit, fail, finish, machine, printTable, ROOT, startOrchestrator, watchProcess } from './lib/orchestrator.mjs';

const SIZES = (process.argv[2] ?? '1000').split(',').map(Number);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 30);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

async function run(n) {
  const services = {};
  for (let i = 0; i < n; i++) {
    // alert, not restart: a generator that falls behind on a busy machine must not restart the fleet.
    services[`svc-${String(i).padStart(4, '0')}`] = { executable: 'sleep 3600', heartbeat: { timeout_seconds: 30, action: 'alert' }, stop: { timeout_seconds: 2 } };
  }
  const o = await startOrchestrator({ services, waitFor: 'running', timeoutMs: 300_000 });
  await sleep(WARMUP);
  const idle = await watchProcess(o.pid, WINDOW * 1000);
  const list = (await o.services()).map((s) => ({ id: s.id, pid: s.pid }));
  const gen = spawn(process.execPath, [join(ROOT, 'bench', 'lib', 'heartbeater.mjs'), o.url, String(WARMUP + WINDOW + 60)], { stdio: ['pipe', 'pipe', 'inherit'] });
  atExit(() => gen.kill('SIGKILL'));
  let out = '';
  gen.stdout.on('data', (c) => { out += c; });
  const done = new Promise((resolve) => gen.on('exit', resolve));
  gen.stdin.end(JSON.stringify(list));
  await sleep(WARMUP);
  const t0 = performance.now();
  const busy = await watchProcess(o.pid, WINDOW * 1000);
  gen.kill('SIGTERM');
  await done;
  const elapsed = (performance.now() - t0) / 1000 + WARMUP;
  const g = JSON.parse(out.trim().split('\n').pop());
  await o.stop();
  return {
    services: n,
    'idle CPU %': idle.cpuPercent.toFixed(1),
    'heartbeating CPU %': busy.cpuPercent.toFixed(1),
    'heartbeat cost (CPU %)': (busy.cpuPercent - idle.cpuPercent).toFixed(1),
    'RSS idle / heartbeating MB': `${(idle.rssAvg / 1048576).toFixed(0)} / ${(busy.rssAvg / 1048576).toFixed(0)}`,
    'heartbeats/s (200)': (g.ok / elapsed).toFixed(0),
    'other answers': g.failed + Object.entries(g.statuses).filter(([s]) => s !== '200').reduce((a, [, c]) => a + c, 0),
    'latency p50 ms': g.latencies.p50.toFixed(2),
    'latency p99 ms': g.latencies.p99.toFixed(2),
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
