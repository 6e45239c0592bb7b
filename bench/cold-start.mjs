// Cold start: N services (default 200) from nothing until every one is healthy. The services are
// cheap processes (`sleep`) whose health endpoints the fleet simulator answers at once, so the
// figure is the orchestrator's: spawning, fast probing and bookkeeping for the whole fleet.
//   node bench/cold-start.mjs [services=200]
import { fail, finish, machine, printTable, startFleetSimulator, startOrchestrator, watchProcess } from './lib/orchestrator.mjs';

const N = Number(process.argv[2] ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

async function once(sim) {
  const services = {};
  for (let i = 0; i < N; i++) {
    const id = `svc-${String(i).padStart(4, '0')}`;
    services[id] = { executable: 'sleep 3600', health_endpoint: `${sim}/health/${id}`, health: { interval_seconds: 30 }, stop: { timeout_seconds: 2 } };
  }
  const t0 = performance.now();
  const o = await startOrchestrator({ services, waitFor: null });
  const listening = performance.now() - t0;
  let firstHealthy = null;
  let lastStart = 0;
  for (;;) {
    const list = await o.services();
    const healthy = list.filter((s) => s.health === 'healthy').length;
    if (healthy > 0 && firstHealthy === null) firstHealthy = performance.now() - t0;
    lastStart = Math.max(lastStart, list.filter((s) => s.pid).length === N ? performance.now() - t0 : 0);
    if (healthy === N) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const allHealthy = performance.now() - t0;
  const usage = await watchProcess(o.pid, 3000, 500);
  await o.stop();
  return { listening, firstHealthy, allHealthy, rss: usage.rssMax };
}

try {
  const sim = await startFleetSimulator();
  const rows = [];
  for (let r = 1; r <= RUNS; r++) {
    const x = await once(sim);
    rows.push({
      run: r, services: N,
      'process start → API up (ms)': x.listening.toFixed(0),
      'first healthy (ms)': x.firstHealthy.toFixed(0),
      'all healthy (ms)': x.allHealthy.toFixed(0),
      'per service (ms)': (x.allHealthy / N).toFixed(1),
      'RSS after (MB)': (x.rss / 1048576).toFixed(0),
    });
  }
  process.stdout.write(`\n### Cold start of ${N} services until all are healthy — ${machine()}\n\n`);
  printTable(Object.keys(rows[0]), rows);
  await finish(0);
} catch (err) {
  await fail(err);
}
