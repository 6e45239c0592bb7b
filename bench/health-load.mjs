// Health-check load: N supervised processes (cheap `sleep`) whose health endpoints are served by
// one fleet simulator process, probed every second. Per fleet size: the orchestrator's CPU % (of
// one core) and RSS over the window, probes/s achieved, probe latency as the orchestrator measured
// it (p50/p99), and the mean gap between two probes of a service and the late ones (a gap over
// 1.5 s) as the simulator saw them.
//   node bench/health-load.mjs [sizes=100,500,1000]     BENCH_WINDOW=60 (seconds)
import { fail, finish, machine, printTable, startFleetSimulator, startOrchestrator, watchProcess } from './lib/orchestrator.mjs';
import { summarize } from './lib/stats.mjs';

const SIZES = (process.argv[2] ?? '100,500,1000').split(',').map(Number);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 60);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const ORIGINS = process.env.BENCH_ORIGINS ?? 'one';

async function run(n, sim) {
  const services = {};
  for (let i = 0; i < n; i++) {
    const id = `svc-${String(i).padStart(4, '0')}`;
    // BENCH_ORIGINS=many: each service its own origin, as when every agent listens on its own
    // address (127.0.0.0/8 is all loopback): one keep-alive connection per service.
    const host = ORIGINS === 'many' ? `127.0.${(i + 1) >> 8}.${((i + 1) & 255) || 1}` : '127.0.0.1';
    services[id] = { executable: 'sleep 3600', health_endpoint: `${sim.replace('127.0.0.1', host)}/health/${id}`, health: { interval_seconds: 1, timeout_seconds: 2 }, stop: { timeout_seconds: 2 } };
  }
  const o = await startOrchestrator({ services, config: { monitoring: { interval: 1, timeout: 2, sample_interval: 5 } }, waitFor: 'healthy', timeoutMs: 300_000 });
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  await fetch(`${sim}/reset`);
  const latencies = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const s of await o.services()) if (s.health_check.last) latencies.push(s.health_check.last.latency_ms);
      await new Promise((r) => setTimeout(r, 5000));
    }
  })();
  const usage = await watchProcess(o.pid, WINDOW * 1000);
  // Probes counted over the window only: the latency sampler may still sleep for up to 5 s.
  const stats = await (await fetch(`${sim}/stats?interval=1000`)).json();
  sampling = false;
  await sampler;
  await o.stop();
  const lat = summarize(latencies);
  return {
    services: n,
    'CPU % (one core)': usage.cpuPercent.toFixed(1),
    'RSS avg MB': (usage.rssAvg / 1048576).toFixed(0),
    'RSS max MB': (usage.rssMax / 1048576).toFixed(0),
    'probes/s': (stats.total / WINDOW).toFixed(0),
    'latency p50 ms': lat.p50.toFixed(2),
    'latency p99 ms': lat.p99.toFixed(2),
    'mean gap ms': (stats.meanGap).toFixed(0),
    'late (gap > 1.5 s)': stats.late,
  };
}

try {
  const sim = await startFleetSimulator();
  const rows = [];
  for (const n of SIZES) rows.push(await run(n, sim));
  process.stdout.write(`\n### Health-check load (${WINDOW} s window, 1 s interval, ${ORIGINS === 'many' ? 'one origin per service' : 'one simulator origin'}) — ${machine()}\n\n`);
  printTable(Object.keys(rows[0]), rows);
  await finish(0);
} catch (err) {
  await fail(err);
}
